// Package pagecache tells tests how much of a file is in the page cache,
// so that code which drops written or read pages (the local store, restore)
// can be checked on a real file system.
package pagecache
