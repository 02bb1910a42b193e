// Package keyfile keeps the origin's Ed25519 signing key in a file: created
// once with owner-only permissions, read back on every start. It is the only
// part of key handling that touches the disk, which keeps internal/integrity
// free of I/O.
package keyfile

import "errors"

// ErrKey reports a key file that holds no usable Ed25519 key.
var ErrKey = errors.New("keyfile: invalid key")
