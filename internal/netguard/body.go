package netguard

import (
	"errors"
	"fmt"
	"io"
	"math"
)

// ErrTooLarge is wrapped by ReadLimited's error when the input exceeds its limit.
var ErrTooLarge = errors.New("body too large")

// ReadLimited reads r to the end, but no more than limit bytes (a negative
// limit is treated as 0). If r holds more, it returns the first limit bytes
// and an error wrapping ErrTooLarge; it reads at most one byte past limit to
// find out. Other read errors are returned with the bytes read before them.
func ReadLimited(r io.Reader, limit int64) ([]byte, error) {
	limit = max(limit, 0)
	data, err := io.ReadAll(io.LimitReader(r, min(limit, math.MaxInt64-1)+1))
	if err != nil {
		return data, fmt.Errorf("read body: %w", err)
	}
	if int64(len(data)) > limit {
		return data[:limit], fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
	}
	return data, nil
}
