package workflow

import (
	"errors"
	"fmt"
	"reflect"
	"unicode/utf8"
)

// ErrBudgetExceeded is wrapped by every error a template rendering or an
// expression evaluation returns when it would allocate more, iterate more or
// write more than its budget allows. Such a failure is deterministic: a
// retry with the same data fails the same way.
var ErrBudgetExceeded = errors.New("evaluation budget exceeded")

// budget counts the bytes one rendering or evaluation may still allocate
// through functions that build strings or collections. It is used by one
// goroutine at a time.
type budget struct {
	left int64
}

func newBudget(n int64) *budget { return &budget{left: n} }

// charge takes n bytes from the budget, failing once it would go negative.
func (b *budget) charge(n int64) error {
	if n < 0 {
		n = 0
	}
	if n > b.left {
		b.left = 0
		return fmt.Errorf("%w: needs %d more bytes than allowed", ErrBudgetExceeded, n)
	}
	b.left -= n
	return nil
}

// Sizes used to estimate what values occupy once built or printed.
const (
	scalarSize  = 24 // a number, bool or null, printed or boxed in an interface
	elementSize = 16 // one slot of a []any
	entrySize   = 48 // one entry of a map[string]any
)

// deepSize estimates the bytes v occupies when printed as JSON or with fmt,
// counting shared values each time they are reached. It stops walking once
// the estimate passes limit and then returns a value above limit, so its
// cost is bounded by limit whatever the shape of v (even cyclic).
func deepSize(v any, limit int64) int64 {
	var n int64
	sizeWalk(reflect.ValueOf(v), &n, limit)
	return n
}

func sizeWalk(v reflect.Value, n *int64, limit int64) {
	if *n > limit {
		return
	}
	if !v.IsValid() {
		*n += scalarSize
		return
	}
	switch v.Kind() {
	case reflect.String:
		*n += int64(v.Len()) + 2
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			*n += scalarSize
			return
		}
		sizeWalk(v.Elem(), n, limit)
	case reflect.Slice, reflect.Array:
		*n += 2
		if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8 {
			*n += int64(v.Len()) * 2
			return
		}
		for i := 0; i < v.Len() && *n <= limit; i++ {
			*n++
			sizeWalk(v.Index(i), n, limit)
		}
	case reflect.Map:
		*n += 2
		iter := v.MapRange()
		for iter.Next() && *n <= limit {
			*n += 2
			sizeWalk(iter.Key(), n, limit)
			sizeWalk(iter.Value(), n, limit)
		}
	case reflect.Struct:
		*n += 2
		for i := 0; i < v.NumField() && *n <= limit; i++ {
			*n += int64(len(v.Type().Field(i).Name)) + 2
			sizeWalk(v.Field(i), n, limit)
		}
	default:
		*n += scalarSize
	}
}

// shallowSize estimates the bytes freshly allocated for v by an operation
// that builds only its top level (a new string, slice or map whose elements
// are shared with the operation's inputs).
func shallowSize(v any) int64 {
	switch x := v.(type) {
	case string:
		return int64(len(x))
	case []any:
		return int64(len(x)) * elementSize
	case []string:
		return int64(len(x)) * elementSize
	case map[string]any:
		return int64(len(x)) * entrySize
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String:
		return int64(rv.Len())
	case reflect.Slice, reflect.Array:
		return int64(rv.Len()) * elementSize
	case reflect.Map:
		return int64(rv.Len()) * entrySize
	}
	return scalarSize
}

// maxErrorLen bounds the messages of errors that may quote tenant data.
const maxErrorLen = 500

// clippedError shortens the message of err, which it still unwraps to.
type clippedError struct {
	msg string
	err error
}

func (e *clippedError) Error() string { return e.msg }
func (e *clippedError) Unwrap() error { return e.err }

// clipError returns err with its message cut to maxErrorLen bytes.
func clipError(err error) error {
	msg := err.Error()
	if len(msg) <= maxErrorLen {
		return err
	}
	cut := maxErrorLen
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return &clippedError{msg: msg[:cut] + "…", err: err}
}
