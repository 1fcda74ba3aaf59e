package keys

import "errors"

// Errors returned by [Unwrap]. Structural damage to a key file (bad magic,
// truncation, KDF parameters out of bounds, an invalid payload) is reported
// as format.ErrCorrupt instead; test for it with format.IsCorrupt.
var (
	// ErrWrongPassword is returned by Unwrap when the key file is well formed
	// but its sealed payload does not authenticate under the key derived
	// from the given password. AEAD cannot tell a wrong password from a
	// tampered key file: a flipped bit in the salt, nonce, label, creation
	// time, KDF cost fields (within bounds) or ciphertext gives this same
	// error. It is deliberately not a corruption error, so callers can ask
	// for the password again; a user who is sure of the password should
	// suspect the key file.
	ErrWrongPassword = errors.New("keys: wrong password (or key file tampered with)")
)
