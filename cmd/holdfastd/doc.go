// Command holdfastd is the Holdfast repository server. This package only
// wires flags to package server and package repo; see CONTRACT.md for the
// commands and SPEC.md for what they do.
//
//	holdfastd serve [--data DIR] [--listen ADDR] [--tls-cert FILE --tls-key FILE]
package main
