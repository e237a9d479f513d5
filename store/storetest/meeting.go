package storetest

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/onlinemeetings/onlinemeetings/store"
)

// seq makes every meeting NewMeeting returns unique within the process, so
// tests never collide by accident when they reuse i or build meetings for
// several owners.
var seq atomic.Int64

// baseTime has all seven fractional digits set, so a store that keeps only
// milliseconds or microseconds fails the round-trip test.
var baseTime = time.Date(2026, time.November, 26, 9, 41, 7, 123456700, time.UTC)

// NewMeeting returns a valid meeting owned by owner, as the handlers would
// build it for POST /me/onlineMeetings: a fresh ID, a 13-digit
// JoinMeetingID and a JoinWebURL that no other call in this process
// returns, an empty ExternalID, a UTC CreationDateTime truncated to 100 ns,
// and a JSON Resource. i only labels the meeting (it shows in the subject),
// so tests can tell meetings apart in failure messages.
func NewMeeting(owner store.Owner, i int) *store.Meeting {
	n := seq.Add(1)
	id := "MSp" + uuid.NewString() // Graph ids are opaque strings; any unique text will do.
	joinID := fmt.Sprintf("%013d", 1_000_000_000_000+n)
	url := fmt.Sprintf("https://teams.example.com/l/meetup-join/19%%3ameeting_%s%%40thread.v2/0?n=%d", id, n)
	created := baseTime.Add(time.Duration(n) * (time.Millisecond + 100*time.Nanosecond))
	resource := fmt.Sprintf(`{"id":%q,"subject":"meeting %d","joinMeetingIdSettings":{"joinMeetingId":%q},"joinWebUrl":%q,"creationDateTime":%q}`,
		id, i, joinID, url, created.Format(time.RFC3339Nano))
	return &store.Meeting{
		ID:               id,
		Owner:            owner,
		JoinMeetingID:    joinID,
		JoinWebURL:       url,
		CreationDateTime: created,
		Resource:         []byte(resource),
	}
}

// longExternalID returns an external id as long as the API lets a caller
// make one, 1024 characters, each as long in UTF-8 as any (4 bytes) and
// drawn at random so that it does not compress: 4 KB, more than a
// PostgreSQL btree index entry holds (2704 bytes). The ids for two values
// of last differ only in their last character.
func longExternalID(last rune) string {
	rng := rand.New(rand.NewPCG(1024, 4))
	var b strings.Builder
	for range 1023 {
		b.WriteRune(rune(0x20000 + rng.IntN(0xa6e0))) // CJK Unified Ideographs Extension B
	}
	b.WriteRune(last)
	return b.String()
}
