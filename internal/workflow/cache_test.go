package workflow

import (
	"fmt"
	"sync"
	"testing"
)

func TestLRUCacheBounds(t *testing.T) {
	t.Parallel()
	c := newLRUCache[int](3, 10)
	c.add("a", 1)
	c.add("b", 2)
	c.add("c", 3)
	c.get("a") // a is now the most recently used
	c.add("d", 4)
	if _, ok := c.get("b"); ok {
		t.Error("b should have been evicted as least recently used")
	}
	for _, k := range []string{"a", "c", "d"} {
		if _, ok := c.get(k); !ok {
			t.Errorf("%s evicted too early", k)
		}
	}
	c.add("0123456789", 5) // 10 bytes: everything else must go
	if c.len() != 1 {
		t.Errorf("len = %d after a key of maxBytes, want 1", c.len())
	}
	c.add("01234567890", 6) // longer than maxBytes: not cached
	if _, ok := c.get("01234567890"); ok {
		t.Error("a key longer than maxBytes was cached")
	}
}

func TestLRUCacheConcurrent(t *testing.T) {
	t.Parallel()
	c := newLRUCache[string](50, 1<<20)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				k := fmt.Sprint(g*1000 + i%100)
				c.add(k, k)
				if v, ok := c.get(k); ok && v != k {
					t.Errorf("get(%s) = %s", k, v)
				}
			}
		}()
	}
	wg.Wait()
	if c.len() > 50 {
		t.Fatalf("len = %d, want at most 50", c.len())
	}
}
