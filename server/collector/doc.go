// Package collector joins the garbage collector (package gc) to the
// server's CollectGarbage RPC (server.Options.CollectGarbage): it runs
// gc.Run and turns its report into the API's GCReport. It lives apart from
// both because gc's tests drive a real server, so neither may import the
// other.
package collector
