package udp

import "testing"

// TestWireSizes pins the sizes the package doc and docs/TRANSPORT.md state.
func TestWireSizes(t *testing.T) {
	tests := []struct {
		name      string
		got, want int
	}{
		{"Overhead", Overhead, 29},
		{"MaxPacketSize", MaxPacketSize, 1189},
		{"init", initPacketLen, 105},
		{"response", responsePacketLen, 105},
		{"finish", finishPacketLen, 69},
		{"reset", resetPacketLen, 5},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %d, want %d", tt.name, tt.got, tt.want)
		}
	}
	if Overhead > 40 {
		t.Errorf("Overhead %d exceeds the 40 bytes allowed", Overhead)
	}
	if initPacketLen < responsePacketLen {
		t.Errorf("the init (%d) is smaller than the response it provokes (%d)", initPacketLen, responsePacketLen)
	}
}
