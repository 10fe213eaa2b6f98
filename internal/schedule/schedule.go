// Package schedule computes when a cron schedule runs in an IANA time zone,
// with explicit, tested rules for daylight-saving changes.
//
// robfig/cron's own Next skips runs inside the hour lost to a spring-forward
// change (robfig/cron#541), and its parser's messages are not written for
// users, so this package parses the standard five-field syntax itself and
// computes run times from the zone's offset periods (time.Time.ZoneBounds).
package schedule

import (
	"time"

	// Zone data ships with the binary, so schedules evaluate the same on
	// hosts without /usr/share/zoneinfo.
	_ "time/tzdata"
)

// MaxPreview caps the number of run times Preview returns.
const MaxPreview = 100

// searchYears bounds how far Next looks ahead. Parse refuses expressions
// that never match, and the calendar repeats every 400 years, so a schedule
// that Parse accepted always has a run within this window.
const searchYears = 401

// Schedule is a parsed cron expression bound to a time zone. It is immutable
// and safe for concurrent use.
//
// Run times are wall-clock times in the zone, with these rules where
// daylight-saving changes make wall-clock times skip or repeat:
//
//   - A matching wall-clock time that does not exist (it falls in the gap of
//     a spring-forward change) runs once, at the first instant after the gap.
//     Several matching times in one gap yield one run.
//   - A matching wall-clock time that occurs twice (fall-back change) runs
//     once, at its first occurrence — unless the minute or hour field is
//     written with '*' or a step ("*/15 * * * *", "0 * * * *", "0 1/2 * * *",
//     @hourly). Such interval schedules run at every instant whose wall clock
//     matches, so they keep following elapsed time: "0 * * * *" runs 25 times
//     on a fall-back day and 23 times on a spring-forward day.
//
// "@every <d>" runs at every multiple of d since the Unix epoch, in absolute
// time, whatever the zone: "@every 90m" runs at 00:00, 01:30, 03:00 … UTC.
type Schedule struct {
	expr string
	loc  *time.Location

	// every is non-zero for "@every" schedules; the fields below are unused then.
	every time.Duration

	// Sets of allowed values: bit v is set when value v is allowed. Day of
	// week uses 0 for Sunday.
	minute, hour, dom, month, dow uint64
	// domStar and dowStar record that the day-of-month or day-of-week field
	// started with '*'; see dayMatches.
	domStar, dowStar bool
	// interval records that the minute or hour field uses '*' or a step.
	interval bool
}

// String returns the expression as given to Parse, without surrounding space.
func (s *Schedule) String() string { return s.expr }

// Location returns the time zone the schedule is evaluated in.
func (s *Schedule) Location() *time.Location { return s.loc }

// Next returns the first run time strictly after after, in UTC, following
// the rules described on Schedule. Run times are whole minutes of the zone's
// wall clock (for @every, whole multiples of the interval).
//
// The search is bounded (about 400 years ahead); Next returns the zero Time
// if it finds no run in that window, which cannot happen for a schedule
// returned by Parse unless after is near the end of representable time.
func (s *Schedule) Next(after time.Time) time.Time {
	if s.every > 0 {
		return s.nextEvery(after)
	}
	horizon := after.AddDate(searchYears, 0, 0)
	cur := after
	for cur.Before(horizon) {
		local := cur.In(s.loc)
		offset := zoneOffset(local)
		zoneStart, _ := local.ZoneBounds()
		zoneEnd := offsetPeriodEnd(local)
		if zoneEnd.IsZero() || zoneEnd.After(horizon) {
			zoneEnd = horizon
		}

		// from is the earliest wall-clock time in this offset period that
		// may still run.
		var from time.Time
		if cur.Equal(after) {
			from = wall(after, offset).Truncate(time.Minute).Add(time.Minute)
		} else {
			from = ceilMinute(wall(cur, offset))
		}

		if !zoneStart.IsZero() {
			prevOffset := zoneOffset(zoneStart.Add(-time.Nanosecond).In(s.loc))
			switch {
			case prevOffset < offset && zoneStart.After(after):
				// Spring forward: wall-clock times in [gapStart, gapEnd)
				// do not exist; if any of them matches, run at the first
				// instant after the gap, which is zoneStart.
				gapStart := ceilMinute(wall(zoneStart, prevOffset))
				if _, ok := s.nextWall(gapStart, wall(zoneStart, offset)); ok {
					return zoneStart.UTC()
				}
			case prevOffset > offset && !s.interval:
				// Fall back: wall-clock times before repeatEnd already
				// occurred in the previous period and ran there.
				if repeatEnd := ceilMinute(wall(zoneStart, prevOffset)); from.Before(repeatEnd) {
					from = repeatEnd
				}
			}
		}

		if w, ok := s.nextWall(from, wall(zoneEnd, offset)); ok {
			return w.Add(-offset).UTC()
		}
		cur = zoneEnd
	}
	return time.Time{}
}

// Preview returns the next n run times after after, in order, in UTC. n is
// capped at MaxPreview; n <= 0 returns nil. The result is shorter than n
// only if Next finds no further run.
func (s *Schedule) Preview(after time.Time, n int) []time.Time {
	n = min(n, MaxPreview)
	if n <= 0 {
		return nil
	}
	runs := make([]time.Time, 0, n)
	for range n {
		next := s.Next(after)
		if next.IsZero() {
			break
		}
		runs = append(runs, next)
		after = next
	}
	return runs
}

func (s *Schedule) nextEvery(after time.Time) time.Time {
	step := int64(s.every / time.Second)
	sec := after.Unix()
	k := sec / step
	if sec%step < 0 {
		k-- // floor division for instants before 1970
	}
	return time.Unix((k+1)*step, 0).UTC()
}

// nextWall returns the first wall-clock time w with from <= w < end that
// matches the fields. Wall-clock times are represented as time.Time values in
// UTC, so calendar arithmetic on them is free of daylight-saving effects.
// from must be a whole minute.
func (s *Schedule) nextWall(from, end time.Time) (time.Time, bool) {
	w := from
	for w.Before(end) {
		switch {
		case s.month&(1<<uint(w.Month())) == 0:
			w = time.Date(w.Year(), w.Month()+1, 1, 0, 0, 0, 0, time.UTC)
		case !s.dayMatches(w):
			w = time.Date(w.Year(), w.Month(), w.Day()+1, 0, 0, 0, 0, time.UTC)
		case s.hour&(1<<uint(w.Hour())) == 0:
			w = w.Truncate(time.Hour).Add(time.Hour)
		case s.minute&(1<<uint(w.Minute())) == 0:
			w = w.Add(time.Minute)
		default:
			return w, true
		}
	}
	return time.Time{}, false
}

// matches reports whether wall-clock time w (in UTC representation) matches
// all five fields.
func (s *Schedule) matches(w time.Time) bool {
	return s.month&(1<<uint(w.Month())) != 0 && s.dayMatches(w) &&
		s.hour&(1<<uint(w.Hour())) != 0 && s.minute&(1<<uint(w.Minute())) != 0
}

// dayMatches applies cron's day rule: when both day fields are restricted
// (neither starts with '*'), a day matches if either field matches;
// otherwise both must match.
func (s *Schedule) dayMatches(w time.Time) bool {
	domOK := s.dom&(1<<uint(w.Day())) != 0
	dowOK := s.dow&(1<<uint(w.Weekday())) != 0
	if s.domStar || s.dowStar {
		return domOK && dowOK
	}
	return domOK || dowOK
}

// dayPossible reports whether some allowed month has some allowed day of
// month. When the day-of-week field is restricted too, the fields are ORed
// (or the weekday can fall on any date), so this is the only way an
// expression can never run.
func (s *Schedule) dayPossible() bool {
	daysIn := [13]int{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}
	if !s.domStar && !s.dowStar {
		return true
	}
	for m := 1; m <= 12; m++ {
		if s.month&(1<<uint(m)) != 0 && s.dom&((1<<uint(daysIn[m]+1))-2) != 0 {
			return true
		}
	}
	return false
}

// wall returns the wall-clock time of instant t at the given UTC offset, in
// UTC representation.
func wall(t time.Time, offset time.Duration) time.Time {
	return t.UTC().Add(offset)
}

// offsetPeriodEnd returns the first instant after local at which its zone's
// UTC offset may change, or the zero Time if it never does. The end may be a
// point where nothing changes (time.Time.ZoneBounds reports year ends in
// years served by a zone's rule string); callers must cope with that.
func offsetPeriodEnd(local time.Time) time.Time {
	_, end := local.ZoneBounds()
	if end.IsZero() || end.After(local) {
		return end
	}
	// ZoneBounds can return an end that is not after local: on the last UTC
	// day of a leap year served by the zone's rule string it reports
	// Dec 31 00:00 UTC (golang/go#81583). Find the next offset change within
	// a day ourselves; offsets change at whole seconds.
	offset := zoneOffset(local)
	lo, hi := local, local.Add(24*time.Hour)
	if zoneOffset(hi) == offset {
		return hi
	}
	for hi.Sub(lo) > time.Second {
		mid := lo.Add(hi.Sub(lo) / 2).Truncate(time.Second)
		if !mid.After(lo) {
			mid = lo.Add(time.Second)
		}
		if zoneOffset(mid) == offset {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

func zoneOffset(local time.Time) time.Duration {
	_, sec := local.Zone()
	return time.Duration(sec) * time.Second
}

// ceilMinute rounds a wall-clock time (UTC representation) up to a whole minute.
func ceilMinute(w time.Time) time.Time {
	if t := w.Truncate(time.Minute); !t.Equal(w) {
		return t.Add(time.Minute)
	}
	return w
}
