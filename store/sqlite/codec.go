package sqlite

import (
	"database/sql"
	_ "embed"
	"errors"
	"fmt"

	"github.com/klauspost/compress/s2"
)

// Resources are stored compressed when that makes them smaller: a meeting
// as the handlers render it is about 2.3 KB of JSON, most of it property
// names and nulls that every meeting repeats. Uncompressed, each row fills
// a 4 KiB page of its own, so every create dirties a table page and writes
// it to the WAL; compressed against a dictionary of two typical meetings
// it is about 450 bytes, four rows share a page, and the writer (the
// server's bottleneck) writes about a fifth fewer pages per batch. The
// file shrinks about 2.5 times too.
//
// The resource_codec column says how a row's resource is stored: NULL for
// as is (rows written before migration 0005, and resources compression
// would not shrink), codecS2Dict1 for an S2 block (github.com/klauspost/
// compress/s2, a documented, stable format) encoded against
// resource_dict_v1.jsonl. Compression runs in the caller's goroutine
// before the request reaches the writer, and takes about 2 µs; decoding
// about 0.2 µs.
//
// A dictionary never changes once released: rows encoded with it can only
// be read with the same bytes (TestResourceDictUnchanged pins them). A
// better dictionary is a new file and a new codec number, and readers keep
// every older one.
const (
	codecS2Dict1 = 1
)

//go:embed resource_dict_v1.jsonl
var resourceDictV1 []byte

// s2Dict1 is the dictionary of codecS2Dict1.
var s2Dict1 = s2.MakeDict(resourceDictV1, nil)

// maxResourceBytes bounds the decoded size a stored block may claim, so a
// corrupt row cannot make a read allocate without limit. Resources come
// from request bodies of at most 4 MiB.
const maxResourceBytes = 64 << 20

// storedResource is a resource as a row keeps it: the bytes and the
// resource_codec value (nil for NULL: as is).
type storedResource struct {
	blob  []byte
	codec any
}

// encodeResource returns r as it is to be stored: compressed when that is
// smaller, else as is. It never keeps r.
func encodeResource(r []byte) storedResource {
	if len(r) == 0 {
		return storedResource{blob: []byte{}} // NOT NULL: nil would bind as NULL
	}
	if len(r) <= maxResourceBytes {
		if c := s2Dict1.Encode(nil, r); len(c) < len(r) {
			return storedResource{blob: c, codec: int64(codecS2Dict1)}
		}
	}
	return storedResource{blob: append([]byte(nil), r...)}
}

// errUnknownCodec is decodeResource's error for a codec this version does
// not know, such as one a newer version wrote.
var errUnknownCodec = errors.New("unknown resource codec")

// decodeResource returns the resource of a row from its resource and
// resource_codec columns. The result may share blob's memory.
func decodeResource(blob []byte, codec sql.NullInt64) ([]byte, error) {
	if !codec.Valid {
		if blob == nil {
			return []byte{}, nil
		}
		return blob, nil
	}
	switch codec.Int64 {
	case codecS2Dict1:
		n, err := s2.DecodedLen(blob)
		if err != nil {
			return nil, fmt.Errorf("stored resource: %w", err)
		}
		if n > maxResourceBytes {
			return nil, fmt.Errorf("stored resource claims %d bytes, more than %d", n, maxResourceBytes)
		}
		r, err := s2Dict1.Decode(make([]byte, n), blob)
		if err != nil {
			return nil, fmt.Errorf("stored resource: %w", err)
		}
		return r, nil
	default:
		return nil, fmt.Errorf("stored resource: %w %d (written by a newer version?)", errUnknownCodec, codec.Int64)
	}
}
