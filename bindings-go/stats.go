// Server counters (Server.Stats): a snapshot summed over every event loop.

package websock

// Stats is a snapshot of a server's counters, summed over its event loops. Each loop
// publishes once per turn, so the numbers may trail the last few events.
type Stats struct {
	Connections    uint64 // open WebSocket connections now
	Accepted       uint64 // TCP connections accepted since start (upgraded or not)
	Opened         uint64 // connections upgraded since start
	Rejected       uint64 // handshakes refused (bad request, origin, CheckUpgrade) or timed out
	MessagesIn     uint64
	MessagesOut    uint64
	BytesIn        uint64
	BytesOut       uint64
	Dropped        uint64 // messages dropped by the DropNewest policy
	ProtocolErrors uint64 // connections closed for protocol errors
	Loops          int    // event loops of the server
	// CompressionBytes is the compression history held by dedicated permessage-deflate
	// contexts (refreshed by each loop about once a second); DedicatedCompression is the
	// number of connections holding such a context now.
	CompressionBytes     uint64
	DedicatedCompression uint64
}
