package rpccodec

var (
	GetBufForTest = getBuf
	PutBufForTest = putBuf
)

func KeptForTest() int64 { return kept.Load() }
