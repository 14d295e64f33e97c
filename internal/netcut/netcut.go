// Package netcut is a network a test can cut: a dial function for
// kafka-go's Dialer whose connections are closed, and new ones refused,
// while the network is cut. Tests use it to make a group member vanish
// without leaving its group, as a crash or a network partition does.
package netcut

import (
	"context"
	"errors"
	"net"
	"sync"
)

// Net tracks the connections dialled through it.
type Net struct {
	mu    sync.Mutex
	cut   bool
	conns []net.Conn
}

// Dial dials like net.Dialer unless the network is cut.
func (n *Net) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cut {
		return nil, errors.New("network cut by the test")
	}
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err == nil {
		n.conns = append(n.conns, c)
	}
	return c, err
}

// Set cuts the network (closing every connection) or heals it.
func (n *Net) Set(cut bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cut = cut
	if cut {
		for _, c := range n.conns {
			c.Close()
		}
		n.conns = nil
	}
}
