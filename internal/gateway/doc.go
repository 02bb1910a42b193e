// Package gateway is a viewer's local HTTP server for players: it serves live
// streams as progressive MPEG-TS and as HLS, and on-demand files with Range.
//
// It owns only the HTTP side. Live chunks arrive through Live.Push, already
// verified and in play order; file bytes come through a Source whose reads
// block until they are verified. The gateway never imports the engine or a
// transport: a player's reads turn into demand only through Source.ReadAt.
//
// # Live
//
// A Live keeps the current group of pictures, from its most recent
// random-access chunk (RAP: PAT, PMT and a keyframe), for clients that join,
// and the recent window cut into HLS segments. A missing sequence number
// drops chunks until the next RAP for everyone, so no client ever receives a
// broken group of pictures. A progressive client that lags by more than
// LiveOptions.MaxClientLagBytes is disconnected; Push never waits for a
// client.
//
// HLS segments start at a RAP and end at the first RAP at or after
// TargetSegment, at a gap, or before a chunk flagged Discontinuity; the
// segment after a gap or a discontinuity carries EXT-X-DISCONTINUITY.
// EXT-X-TARGETDURATION starts at TargetSegment rounded up and only ever grows,
// when a longer group of pictures forces a longer segment. The playlist lists
// the newest complete segments up to Window, and never less than three target
// durations (RFC 8216 §6.2.2). A segment removed from the playlist stays
// fetchable for its own duration plus that of the longest playlist (Window,
// or four target durations if more), as the same section asks, and then
// answers 404.
//
// # On demand
//
// NewFile serves one Source through http.ServeContent: a single range answers
// 206, several ranges 206 multipart/byteranges (200 with the whole file when
// they add up to more than it), an unsatisfiable one 416 with
// "Content-Range: bytes */SIZE". The content ID is the strong ETag, so
// If-None-Match and If-Range work; Content-Type comes from the name's
// extension and is never sniffed, which would read, and so demand, the first
// bytes of every file. Reads carry the request context: a player that hangs
// up cancels its demand.
package gateway
