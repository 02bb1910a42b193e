// Package tracker bootstraps swarms: viewers announce themselves for a swarm
// over HTTP and get back a random handful of other live peers (and the
// origin's seeds) to dial over UDP.
//
// It owns the registry of announced peers, their expiry and the HTTP API under
// /tracker/, plus the Client that viewers use. It knows nothing of chunks or of
// the engine; peer exchange inside a swarm is the engine's job. WebRTC
// signalling for browsers will live here too, under the same path prefix.
package tracker
