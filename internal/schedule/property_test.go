package schedule

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
)

// randomExpr returns a random five-field expression. With robfigCompatible,
// it avoids the two places where this package deliberately differs from
// robfig/cron: day fields written "*/n" (robfig treats them as restricted,
// Vixie cron and this package do not) and 7 for Sunday.
func randomExpr(r *rand.Rand, robfigCompatible bool) string {
	specs := fieldSpecs()
	fields := make([]string, len(specs))
	for i, spec := range specs {
		top := spec.starMax
		value := func() string {
			v := spec.min + r.IntN(top-spec.min+1)
			if spec.names != nil && r.IntN(3) == 0 {
				return spec.names[v-spec.min]
			}
			if spec.name == "day-of-week" && v == 0 && !robfigCompatible && r.IntN(2) == 0 {
				return "7"
			}
			return fmt.Sprint(v)
		}
		span := func() string {
			a := spec.min + r.IntN(top-spec.min+1)
			b := a + r.IntN(top-a+1)
			return fmt.Sprintf("%d-%d", a, b)
		}
		step := func() int { return 1 + r.IntN(top-spec.min) }
		dayField := i == 2 || i == 4
		switch k := r.IntN(7); {
		case k == 0 || (k == 1 && dayField && robfigCompatible):
			fields[i] = "*"
		case k == 1:
			fields[i] = fmt.Sprintf("*/%d", step())
		case k == 2:
			fields[i] = value()
		case k == 3:
			fields[i] = span()
		case k == 4:
			fields[i] = fmt.Sprintf("%s/%d", span(), step())
		case k == 5:
			fields[i] = fmt.Sprintf("%d/%d", spec.min+r.IntN(top-spec.min+1), step())
		default:
			fields[i] = strings.Join([]string{value(), span(), value()}, ",")
		}
	}
	return strings.Join(fields, " ")
}

// randomSchedules returns n schedules Parse accepts, and the seed used.
func randomSchedules(t *testing.T, n int, tz string, robfigCompatible bool) []*Schedule {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0))
	var out []*Schedule
	for len(out) < n {
		expr := randomExpr(r, robfigCompatible)
		s, err := Parse(expr, tz)
		if err != nil {
			// Only the "never runs" check may refuse a generated expression.
			if !strings.Contains(err.Error(), "never runs") {
				t.Fatalf("Parse(%q): %v", expr, err)
			}
			continue
		}
		out = append(out, s)
	}
	return out
}

// TestFieldsAgreeWithRobfig compares run times with robfig/cron in UTC,
// where its DST problem cannot arise, as an independent check of field
// parsing and matching.
func TestFieldsAgreeWithRobfig(t *testing.T) {
	t.Parallel()
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, s := range randomSchedules(t, 300, "UTC", true) {
		ref, err := cron.ParseStandard("CRON_TZ=UTC " + s.String())
		if err != nil {
			t.Fatalf("robfig rejects %q: %v", s, err)
		}
		got, want := from, from
		for i := range 50 {
			got, want = s.Next(got), ref.Next(want)
			if want.IsZero() {
				break // robfig looks only five years ahead
			}
			if !got.Equal(want) {
				t.Fatalf("%q: run %d is %s, robfig says %s", s, i, got, want)
			}
			if got.IsZero() {
				break
			}
		}
	}
}

// TestRandomSchedulesThroughTransitions checks, for random expressions in
// zones with daylight-saving changes, that
//   - run times over a year (at most the first 1000) strictly increase, and
//     each is a matching wall-clock time or the first instant after a gap
//     containing one, and
//   - around every transition of the year, the runs are exactly those a
//     minute-by-minute scan of the rules on Schedule predicts.
func TestRandomSchedulesThroughTransitions(t *testing.T) {
	t.Parallel()
	zones := []string{"America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata"}
	for _, tz := range zones {
		t.Run(tz, func(t *testing.T) {
			t.Parallel()
			loc, err := time.LoadLocation(tz)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Date(2026, 1, 1, 0, 0, 0, 0, loc)
			end := start.AddDate(1, 0, 0)
			windows := [][2]time.Time{{start, start.Add(26 * time.Hour)}}
			for cur := start; ; {
				_, next := cur.ZoneBounds()
				if next.IsZero() || !next.Before(end) {
					break
				}
				windows = append(windows, [2]time.Time{next.Add(-26 * time.Hour), next.Add(26 * time.Hour)})
				cur = next
			}
			schedules := randomSchedules(t, 30, tz, false)
			// Random expressions rarely aim at the transition hours, so add
			// some that do, fixed and interval.
			for _, expr := range []string{
				"0,30 1,2 * * *", "15 2 * * *", "45 1 * * *", "59 1,2 * * *",
				"*/20 1-3 * * *", "0 */2 * * *", "10 1/1 * * *", "0-59/7 2 * * *",
			} {
				schedules = append(schedules, mustParse(t, expr, tz))
			}
			for _, s := range schedules {
				checkYear(t, s, start, end)
				for _, w := range windows {
					got := runsBetween(s, w[0], w[1])
					want := scanRuns(s, w[0], w[1])
					if !slices.EqualFunc(got, want, time.Time.Equal) {
						t.Errorf("%q in %s between %s and %s:\n got %v\nwant %v",
							s, tz, w[0].UTC(), w[1].UTC(), formatUTC(got), formatUTC(want))
					}
				}
			}
		})
	}
}

func checkYear(t *testing.T, s *Schedule, start, end time.Time) {
	t.Helper()
	prev := start
	for range 1000 {
		next := s.Next(prev)
		if next.IsZero() {
			t.Fatalf("%q: no run after %s", s, prev)
		}
		if !next.After(prev) {
			t.Fatalf("%q: run %s is not after %s", s, next, prev)
		}
		if !next.After(end) && !s.matches(wallOf(next, s.loc)) && !isGapShift(s, next) {
			t.Fatalf("%q: run %s (%s local) neither matches nor follows a gap", s, next, next.In(s.loc))
		}
		if next.After(end) {
			return
		}
		prev = next
	}
}

// runsBetween returns the runs in [from, to).
func runsBetween(s *Schedule, from, to time.Time) []time.Time {
	var runs []time.Time
	for next := s.Next(from.Add(-time.Nanosecond)); next.Before(to); next = s.Next(next) {
		runs = append(runs, next)
	}
	return runs
}

// scanRuns predicts the runs in [from, to) by checking every minute (all
// zones under test have whole-minute offsets).
func scanRuns(s *Schedule, from, to time.Time) []time.Time {
	var runs []time.Time
	for m := from.UTC().Truncate(time.Minute); m.Before(to); m = m.Add(time.Minute) {
		if m.Before(from) {
			continue
		}
		w := wallOf(m, s.loc)
		switch {
		case isGapShift(s, m):
			runs = append(runs, m)
		case s.matches(w) && (s.interval || !occurredBefore(s.loc, m, w)):
			runs = append(runs, m)
		}
	}
	return runs
}

// occurredBefore reports whether wall-clock time w was also shown half an
// hour, an hour or two hours before instant m (the sizes of fall-back changes
// in the zones under test).
func occurredBefore(loc *time.Location, m, w time.Time) bool {
	for _, d := range []time.Duration{30 * time.Minute, time.Hour, 2 * time.Hour} {
		if wallOf(m.Add(-d), loc).Equal(w) {
			return true
		}
	}
	return false
}

// isGapShift reports whether instant m ends a spring-forward gap that
// contains a wall-clock time matching s.
func isGapShift(s *Schedule, m time.Time) bool {
	before, after := zoneOffset(m.Add(-time.Second).In(s.loc)), zoneOffset(m.In(s.loc))
	if before >= after {
		return false
	}
	for w := wall(m, before); w.Before(wall(m, after)); w = w.Add(time.Minute) {
		if s.matches(w) {
			return true
		}
	}
	return false
}

// wallOf returns the wall-clock time of t in loc, in UTC representation.
func wallOf(t time.Time, loc *time.Location) time.Time {
	return wall(t, zoneOffset(t.In(loc)))
}
