package auth

import (
	"slices"
	"sync"
	"time"
)

// DefaultTokenCacheSize is the number of verified tokens remembered when
// Config.TokenCacheSize is 0.
const DefaultTokenCacheSize = 10_000

// tokenCache remembers verified tokens, keyed by the SHA-256 of the raw
// token, until their exp. A hit skips parsing and the RSA/ECDSA check,
// which is most of the cost of a request.
//
// It is bounded: when full, expired entries are dropped and then arbitrary
// ones (Go's map iteration order is random) until it is 10% below its
// limit, so each sweep is paid for by many inserts.
type tokenCache struct {
	max int

	mu      sync.RWMutex
	entries map[[32]byte]cacheEntry
}

type cacheEntry struct {
	p   *Principal // never handed out; callers get clones
	exp time.Time  // the token's exp; the entry is unusable at or after it
	kid string     // the key that verified it; the entry dies with the key
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{max: max, entries: make(map[[32]byte]cacheEntry)}
}

// get returns the entry for key if it is still valid at now.
func (c *tokenCache) get(key [32]byte, now time.Time) (cacheEntry, bool) {
	c.mu.RLock()
	e, ok := c.entries[key]
	c.mu.RUnlock()
	if !ok || !now.Before(e.exp) {
		return cacheEntry{}, false
	}
	return e, true
}

// put stores e under key unless it is already expired at now.
func (c *tokenCache) put(key [32]byte, e cacheEntry, now time.Time) {
	if !now.Before(e.exp) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.max {
		c.evictLocked(now)
	}
	c.entries[key] = e
}

// remove drops key.
func (c *tokenCache) remove(key [32]byte) {
	c.mu.Lock()
	delete(c.entries, key)
	c.mu.Unlock()
}

// evictLocked makes room: expired entries first, then arbitrary ones.
func (c *tokenCache) evictLocked(now time.Time) {
	for k, e := range c.entries {
		if !now.Before(e.exp) {
			delete(c.entries, k)
		}
	}
	target := min(c.max-1, c.max-c.max/10)
	for k := range c.entries {
		if len(c.entries) <= target {
			break
		}
		delete(c.entries, k)
	}
}

// len returns the number of entries, expired ones included.
func (c *tokenCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}

// clonePrincipal returns a deep copy of p, so that a caller changing its
// Principal cannot change what the cache hands to the next request.
func clonePrincipal(p *Principal) *Principal {
	cp := *p
	if p.DisplayName != nil {
		s := *p.DisplayName
		cp.DisplayName = &s
	}
	if p.UPN != nil {
		s := *p.UPN
		cp.UPN = &s
	}
	cp.Scopes = slices.Clone(p.Scopes)
	cp.Roles = slices.Clone(p.Roles)
	return &cp
}
