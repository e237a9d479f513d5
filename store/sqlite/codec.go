package sqlite

import (
	"database/sql"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/klauspost/compress/s2"
)

// Resources are stored compressed when that makes them smaller: a meeting
// as the handlers render it is about 2.2 KB of JSON, most of it property
// names and nulls that every meeting repeats. Uncompressed, each row fills
// a 4 KiB page of its own, so every create dirties a table page and writes
// it to the WAL; compressed against a dictionary of two typical meetings
// it is about 300 to 450 bytes, four or more rows share a page, and the
// writer (the server's bottleneck) has fewer pages to write per batch.
//
// The resource_codec column says how a row's resource is stored: NULL for
// as is (rows written before migration 0005 until they are next updated,
// and resources compression would not shrink), codecS2Dict1 for an S2
// block (github.com/klauspost/compress/s2, whose block format is specified
// in that repository) encoded against the dictionary resource_dict_v1.jsonl
// with its first repeat offset at 0, followed by the CRC-32C of the
// resource, 4 bytes little-endian. S2 blocks carry no checksum of their
// own and a wrong dictionary decodes to garbage without an error, so the
// checksum makes a damaged row, or a decoder that no longer matches the
// encoder, an error instead of a wrong meeting.
//
// Create and CreateOrGet compress in the caller's goroutine, before the
// request reaches the writer; Update, whose function runs in the writer,
// compresses there. Encoding a meeting takes about 2 µs, decoding under
// 1 µs.
//
// A dictionary never changes once released: rows encoded with it can only
// be read with the very same bytes and repeat offset. TestResourceDict
// pins both, and golden blocks must keep decoding whatever version of the
// S2 package go.mod names (its dictionary support is young, and the
// package is in maintenance mode). A better dictionary is a new file and a
// new codec number, and readers keep every older one.
const (
	codecS2Dict1 = 1
)

//go:embed resource_dict_v1.jsonl
var resourceDictV1 []byte

// s2Dict1 is the dictionary of codecS2Dict1: resource_dict_v1.jsonl, first
// repeat offset 0 (where a meeting's first property starts, as each stored
// meeting's does).
var s2Dict1 = s2.MakeDictManual(resourceDictV1, 0)

// crc32c is the table of the resource checksum.
var crc32c = crc32.MakeTable(crc32.Castagnoli)

// maxResourceBytes is the largest resource stored compressed, and so the
// largest decoded size a stored block may claim: a corrupt row cannot make
// a read allocate more. Request bodies are at most 4 MiB; a meeting grown
// beyond this by several PATCHes is stored as is.
const maxResourceBytes = 8 << 20

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
		c := s2Dict1.Encode(make([]byte, s2.MaxEncodedLen(len(r))+4), r)
		if len(c)+4 < len(r) {
			c = binary.LittleEndian.AppendUint32(c, crc32.Checksum(r, crc32c))
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
		if len(blob) < 4 {
			return nil, errors.New("stored resource: block too short")
		}
		block, sum := blob[:len(blob)-4], binary.LittleEndian.Uint32(blob[len(blob)-4:])
		n, err := s2.DecodedLen(block)
		if err != nil {
			return nil, fmt.Errorf("stored resource: %w", err)
		}
		if n > maxResourceBytes {
			return nil, fmt.Errorf("stored resource claims %d bytes, more than %d", n, maxResourceBytes)
		}
		r, err := s2Dict1.Decode(make([]byte, n), block)
		if err != nil {
			return nil, fmt.Errorf("stored resource: %w", err)
		}
		if crc32.Checksum(r, crc32c) != sum {
			return nil, errors.New("stored resource fails its checksum")
		}
		return r, nil
	default:
		return nil, fmt.Errorf("stored resource: %w %d (written by a newer version?)", errUnknownCodec, codec.Int64)
	}
}
