package seal

import (
	"bytes"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/holdfast-backup/holdfast/format"
)

// FuzzDecompress reaches the frame checks and the bounded decoder
// directly; through Open they sit behind the AEAD, which a fuzzer cannot
// get past. It lives here rather than in fuzz/ because decompress is
// unexported. Whatever decodes must agree with an unrestricted zstd
// decoder and stay within the limit.
func FuzzDecompress(f *testing.F) {
	enc := encoders.Get().(*zstd.Encoder)
	f.Add(enc.EncodeAll(repeatedText(5000), nil))
	f.Add(enc.EncodeAll(nil, nil))
	f.Add(enc.EncodeAll(make([]byte, 300), nil))
	f.Add(enc.EncodeAll(xof("r", 2000), nil))
	encoders.Put(enc)
	crc, err := zstd.NewWriter(nil, zstd.WithEncoderCRC(true))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(crc.EncodeAll(repeatedText(300), nil))
	plain, err := zstd.NewReader(nil, zstd.WithDecoderMaxMemory(64<<20))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		out, err := decompress([]byte("pre"), payload)
		if err != nil {
			return
		}
		if !bytes.HasPrefix(out, []byte("pre")) || len(out)-3 > format.MaxChunkSize {
			t.Fatalf("decompress returned %d bytes", len(out))
		}
		want, err := plain.DecodeAll(payload, nil)
		if err != nil || !bytes.Equal(out[3:], want) {
			t.Fatalf("bounded and plain decoders disagree (plain: %v)", err)
		}
	})
}
