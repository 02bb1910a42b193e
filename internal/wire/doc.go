// Package wire owns Shoal's datagram format: the 9-byte header and every
// frame that may follow it, each with an allocation-free Append and Parse.
// It does no I/O, keeps no state between calls and imports only the
// standard library, so the engine, the simulator and the WebAssembly build
// share it. docs/PROTOCOL.md describes the same format byte by byte.
//
// Parse methods reuse the slices already held by the message, so a caller
// that keeps one value per frame type parses without allocating. Byte
// payloads (Data.Payload, Bitfield.Bits, Unknown.Body) alias the input
// buffer: copy them before the buffer is reused. After a failed Parse the
// message's fields are unspecified.
//
// Append methods do not validate: a message that breaks a limit (too many
// ranges, a payload past Total, …) is encoded as given and rejected by the
// receiving Parse. Callers build messages within the documented limits.
package wire
