// Package node composes one Shoal process: the engine, its UDP transport,
// the origin's HTTP side or a viewer's gateway, and the tracker client.
//
// A Driver owns the engine on one goroutine and serialises every call to it:
// datagrams from the socket, timers at the engine's deadline, and commands
// from HTTP handlers. StartOrigin and StartViewer wire the rooms together;
// the logic stays in core, origin, gateway, tracker and transport/udp.
package node
