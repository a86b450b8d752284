package serve

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
)

// maxDrawings bounds the drawings kept: one page of the table and the
// cells opened from it fit many times over.
const maxDrawings = 512

// drawCache renders drawings with Options.Draw, a few at a time (each is
// a Graphviz process), and keeps them by the text they draw.
type drawCache struct {
	draw  func(string) ([]byte, error)
	sem   chan struct{}
	mu    sync.Mutex
	done  map[[32]byte][]byte
	order [][32]byte
}

func newDrawCache(draw func(string) ([]byte, error)) *drawCache {
	return &drawCache{draw: draw, sem: make(chan struct{}, 2), done: map[[32]byte][]byte{}}
}

// errNoDrawings is what a server without a Draw function answers.
var errNoDrawings = errors.New("this server draws no cells (started without a drawing function)")

func (c *drawCache) get(ctx context.Context, text string) ([]byte, error) {
	if c.draw == nil {
		return nil, errNoDrawings
	}
	key := sha256.Sum256([]byte(text))
	c.mu.Lock()
	svg, ok := c.done[key]
	c.mu.Unlock()
	if ok {
		return svg, nil
	}
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	svg, err := c.draw(text)
	<-c.sem
	if err != nil {
		// Not kept: Graphviz may be installed while the server runs.
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.done[key]; !ok {
		c.done[key] = svg
		c.order = append(c.order, key)
		if len(c.order) > maxDrawings {
			delete(c.done, c.order[0])
			c.order = c.order[1:]
		}
	}
	return svg, nil
}
