package auth

import (
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func cacheKey(i int) [32]byte { return sha256.Sum256(fmt.Appendf(nil, "token-%d", i)) }

func TestTokenCacheExpiry(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	c := newTokenCache(10)
	p := &Principal{ObjectID: testOID}
	c.put(cacheKey(1), cacheEntry{p: p, exp: t0.Add(time.Minute)}, t0)
	tests := []struct {
		name string
		at   time.Time
		want bool
	}{
		{"before exp", t0.Add(59 * time.Second), true},
		{"at exp", t0.Add(time.Minute), false},
		{"after exp", t0.Add(2 * time.Minute), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, ok := c.get(cacheKey(1), tt.at); ok != tt.want {
				t.Errorf("get(at %v) ok = %v, want %v", tt.at.Sub(t0), ok, tt.want)
			}
		})
	}
	c.put(cacheKey(2), cacheEntry{p: p, exp: t0}, t0)
	if _, ok := c.entries[cacheKey(2)]; ok {
		t.Errorf("put of an entry expiring now stored it")
	}
}

func TestTokenCacheBounded(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	c := newTokenCache(100)
	p := &Principal{}
	for i := range 1000 {
		c.put(cacheKey(i), cacheEntry{p: p, exp: t0.Add(time.Hour)}, t0)
		if n := c.len(); n > 100 {
			t.Fatalf("after %d puts len() = %d, want <= 100", i+1, n)
		}
	}
	// The most recent entry always survives its own insertion.
	if _, ok := c.get(cacheKey(999), t0); !ok {
		t.Errorf("get(last inserted) missed")
	}
}

func TestTokenCacheEvictsExpiredFirst(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	c := newTokenCache(10)
	p := &Principal{}
	for i := range 10 {
		exp := t0.Add(time.Hour)
		if i%2 == 0 {
			exp = t0.Add(time.Minute)
		}
		c.put(cacheKey(i), cacheEntry{p: p, exp: exp}, t0)
	}
	later := t0.Add(2 * time.Minute)
	c.put(cacheKey(100), cacheEntry{p: p, exp: later.Add(time.Hour)}, later)
	var live []int
	for _, i := range []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 100} {
		if _, ok := c.get(cacheKey(i), later); ok {
			live = append(live, i)
		}
	}
	if diff := cmp.Diff([]int{1, 3, 5, 7, 9, 100}, live); diff != "" {
		t.Errorf("live entries mismatch (-want +got):\n%s", diff)
	}
	if n := c.len(); n != 6 {
		t.Errorf("len() = %d, want 6 (expired entries dropped)", n)
	}
}

func TestClonePrincipal(t *testing.T) {
	p := &Principal{TenantID: testTID, ObjectID: testOID, DisplayName: ptr("A"), UPN: ptr("u"), Scopes: []string{"s"}, Roles: []string{"r"}}
	cp := clonePrincipal(p)
	if diff := cmp.Diff(p, cp); diff != "" {
		t.Fatalf("clonePrincipal() mismatch (-want +got):\n%s", diff)
	}
	*cp.DisplayName, *cp.UPN, cp.Scopes[0], cp.Roles[0] = "B", "v", "x", "y"
	if *p.DisplayName != "A" || *p.UPN != "u" || p.Scopes[0] != "s" || p.Roles[0] != "r" {
		t.Errorf("changing the clone changed the original: %+v", p)
	}
}
