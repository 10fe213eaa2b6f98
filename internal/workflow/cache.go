package workflow

import (
	"container/list"
	"sync"
)

// lruCache is a concurrency-safe least-recently-used cache bounded both by
// the number of entries and by the total length of the keys. Keys are the
// source texts of templates, expressions and schemas, so the key length is
// a fair proxy for what an entry holds.
type lruCache[V any] struct {
	mu         sync.Mutex
	maxEntries int
	maxBytes   int
	bytes      int
	ll         *list.List // front: most recently used
	items      map[string]*list.Element
}

type lruEntry[V any] struct {
	key   string
	value V
}

func newLRUCache[V any](maxEntries, maxBytes int) *lruCache[V] {
	return &lruCache[V]{
		maxEntries: maxEntries,
		maxBytes:   maxBytes,
		ll:         list.New(),
		items:      make(map[string]*list.Element),
	}
}

// get returns the value cached for key.
func (c *lruCache[V]) get(key string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.ll.MoveToFront(el)
		return el.Value.(*lruEntry[V]).value, true
	}
	var zero V
	return zero, false
}

// add caches value under key, evicting the least recently used entries
// until both bounds hold. A key longer than maxBytes is not cached at all.
func (c *lruCache[V]) add(key string, value V) {
	if len(key) > c.maxBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.ll.MoveToFront(el)
		el.Value.(*lruEntry[V]).value = value
		return
	}
	c.items[key] = c.ll.PushFront(&lruEntry[V]{key: key, value: value})
	c.bytes += len(key)
	for c.ll.Len() > c.maxEntries || c.bytes > c.maxBytes {
		oldest := c.ll.Back()
		e := oldest.Value.(*lruEntry[V])
		c.ll.Remove(oldest)
		delete(c.items, e.key)
		c.bytes -= len(e.key)
	}
}

// len returns the number of cached entries.
func (c *lruCache[V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}
