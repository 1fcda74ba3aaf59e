package repo

// crash closes the index without flushing open packs, as a killed process
// would leave it.
func (r *Repo) crash() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	_ = r.idx.Close()
}
