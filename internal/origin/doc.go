// Package origin is a live stream's home: it ingests one stream per name (HLS
// pull, MPEG-TS pull, HTTP push), cuts it into signed chunks, keeps recent ones
// in memory, seeds the swarm and serves the booster.
//
// The ingest side owns the bytes up to the chunk boundary: sources deliver an
// MPEG-TS byte stream, the Chunker cuts it into whole 188-byte packets, starting
// a new chunk at every random-access point with the current PAT and PMT in
// front, so that any such chunk can start a decoder. Sequence numbers and
// signatures are assigned after the chunker, by whoever receives its chunks.
package origin
