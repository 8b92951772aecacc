package main

import (
	"fmt"
	"sync"

	"github.com/plugbox/plugbox/sandbox"
)

var backends sync.Map // root -> sandbox.Backend, kept as a host would keep it

// startInProcess starts container id under root with plugbox's sandbox
// package, the backend a host application embeds.
func startInProcess(root, id string) error {
	b, ok := backends.Load(root)
	if !ok {
		nb, err := sandbox.New(root)
		if err != nil {
			return err
		}
		b, _ = backends.LoadOrStore(root, nb)
	}
	c, err := b.(sandbox.Backend).Load(id)
	if err != nil {
		return fmt.Errorf("load %s: %w", id, err)
	}
	return c.Start()
}
