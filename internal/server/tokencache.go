package server

import (
	"sync"
	"time"
)

// Every authenticated request resolves its bearer token, and looking it up
// in the store was a database round trip per request (a quarter of a GET's,
// make bench). A token found is remembered for tokenCacheTTL, by its hash.
// Unknown secrets are looked up every time: remembering them would let any
// caller fill the cache, and would delay a token just issued elsewhere.
//
// Revoking a token through this process's API (delete-token) forgets it at
// once, so it stops working here before the answer is sent. Another replica
// accepts a revoked token until its entry expires: tokenCacheTTL at most.
// Tokens never change otherwise (no update, no rotation in place).
const (
	tokenCacheTTL = 2 * time.Second
	tokenCacheMax = 1024
)

// tokenCacheKey is a token's hash.
type tokenCacheKey struct {
	hash string
}

type tokenEntry struct {
	p       *principal
	expires time.Time
}

type tokenCache struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu sync.Mutex
	// gen counts forget calls; put drops what a lookup begun before one read.
	gen       uint64
	entries   map[tokenCacheKey]tokenEntry
	lastSweep time.Time
}

func newTokenCache(ttl time.Duration, max int, now func() time.Time) *tokenCache {
	return &tokenCache{ttl: ttl, max: max, now: now, entries: map[tokenCacheKey]tokenEntry{}, lastSweep: now()}
}

// get returns the principal remembered for k, or nil and the generation to
// hand put after looking the token up.
func (c *tokenCache) get(k tokenCacheKey) (*principal, uint64) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[k]; ok && now.Before(e.expires) {
		return e.p, 0
	}
	return nil, c.gen
}

// put remembers p for k, unless a token was forgotten since get returned
// gen: the lookup may have read a token that was being revoked.
func (c *tokenCache) put(k tokenCacheKey, p *principal, gen uint64) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if _, ok := c.entries[k]; !ok && (len(c.entries) >= c.max || now.Sub(c.lastSweep) >= c.ttl) {
		c.sweep(now)
	}
	c.entries[k] = tokenEntry{p: p, expires: now.Add(c.ttl)}
}

// sweep drops expired entries and, if the cache is still full, arbitrary
// ones until there is room for one more.
func (c *tokenCache) sweep(now time.Time) {
	c.lastSweep = now
	for k, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, k)
		}
	}
	for k := range c.entries {
		if len(c.entries) < c.max {
			break
		}
		delete(c.entries, k)
	}
}

// forget drops the token with this id.
func (c *tokenCache) forget(tokenID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for k, e := range c.entries {
		if e.p.tokenID == tokenID {
			delete(c.entries, k)
		}
	}
}

// size is the number of entries held, for tests.
func (c *tokenCache) size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
