// Package cafile loads the PEM bundle that --ca-file (holdfast) and a
// replication target's ca_file (holdfastd) name: the certificate
// authorities trusted instead of the system's, for servers whose
// certificates a private CA signed.
package cafile
