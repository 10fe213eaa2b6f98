package schedule

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Input limits. Expressions and zone names longer than these are refused
// before any parsing.
const (
	MaxExprLen = 128
	MaxZoneLen = 64
)

// Bounds of an "@every" interval.
const (
	minEvery = time.Minute
	maxEvery = 366 * 24 * time.Hour
)

// ParseError reports an invalid cron expression or time zone. Its message
// names the part that is wrong and why, quotes only what the user wrote, and
// is safe to show to users.
type ParseError struct {
	// Part is what was wrong: "cron expression", "minute field", "hour field",
	// "day-of-month field", "month field", "day-of-week field" or "time zone".
	Part string
	// Value is the offending text as written.
	Value string
	// Reason says why it was refused.
	Reason string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("invalid %s %q: %s", e.Part, e.Value, e.Reason)
}

// fieldSpec describes one of the five cron fields.
type fieldSpec struct {
	name string
	// min and max bound the values a user may write; starMax is the top of
	// the range "*" stands for (they differ only for day-of-week, where 7 is
	// accepted as another spelling of Sunday).
	min, max, starMax int
	// names[i] is the name of the value min+i (months and weekdays only).
	names []string
}

func fieldSpecs() [5]fieldSpec {
	return [5]fieldSpec{
		{name: "minute", min: 0, max: 59, starMax: 59},
		{name: "hour", min: 0, max: 23, starMax: 23},
		{name: "day-of-month", min: 1, max: 31, starMax: 31},
		{name: "month", min: 1, max: 12, starMax: 12,
			names: []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
		{name: "day-of-week", min: 0, max: 7, starMax: 6,
			names: []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
	}
}

// descriptorExprs maps the supported "@" descriptors to the five-field
// expressions they abbreviate.
func descriptorExpr(d string) (string, bool) {
	switch d {
	case "@yearly", "@annually":
		return "0 0 1 1 *", true
	case "@monthly":
		return "0 0 1 * *", true
	case "@weekly":
		return "0 0 * * 0", true
	case "@daily", "@midnight":
		return "0 0 * * *", true
	case "@hourly":
		return "0 * * * *", true
	}
	return "", false
}

// Parse parses a cron expression to be evaluated in the IANA time zone tz.
//
// expr is either five fields (minute, hour, day of month, month, day of week)
// in standard cron syntax — "*", values, ranges "a-b", lists "a,b", steps
// "*/n", "a-b/n" and "a/n" (meaning a up to the field's maximum), month names
// jan–dec and weekday names sun–sat (case-insensitive), 0 or 7 for Sunday — or
// one of the descriptors @yearly, @annually, @monthly, @weekly, @daily,
// @midnight, @hourly, or "@every <duration>" (see Schedule for its meaning).
// A step larger than its field's span ("*/90" in the minute field) is refused
// rather than silently meaning a single value.
//
// tz is an IANA zone name such as "Europe/Berlin"; the empty string means UTC.
// "Local" is refused because its meaning depends on the server.
//
// Expressions that can never fire, such as "0 0 30 2 *", are refused.
// Every error is a *ParseError.
func Parse(expr, tz string) (*Schedule, error) {
	loc, err := loadZone(tz)
	if err != nil {
		return nil, err
	}
	expr = strings.TrimSpace(expr)
	exprErr := func(format string, args ...any) error {
		return &ParseError{Part: "cron expression", Value: expr, Reason: fmt.Sprintf(format, args...)}
	}
	if len(expr) > MaxExprLen {
		return nil, &ParseError{Part: "cron expression", Value: expr[:MaxExprLen] + "…",
			Reason: fmt.Sprintf("longer than %d characters", MaxExprLen)}
	}
	if expr == "" {
		return nil, exprErr("the expression is empty")
	}

	s := &Schedule{expr: expr, loc: loc}
	text := expr
	if strings.HasPrefix(expr, "@") {
		name, arg, _ := strings.Cut(expr, " ")
		name = strings.ToLower(name)
		if name == "@every" {
			d, err := parseEvery(strings.TrimSpace(arg))
			if err != nil {
				return nil, exprErr("%v", err)
			}
			s.every = d
			return s, nil
		}
		full, ok := descriptorExpr(name)
		if !ok || arg != "" {
			return nil, exprErr("unknown descriptor; use five fields or one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly, @every <duration>")
		}
		text = full
	}

	fields := strings.Fields(text)
	if len(fields) > 0 && strings.Contains(fields[0], "=") {
		return nil, exprErr("time zone prefixes such as CRON_TZ= are not supported; set the time zone separately")
	}
	if len(fields) != 5 {
		reason := fmt.Sprintf("expected 5 fields (minute hour day-of-month month day-of-week), found %d", len(fields))
		if len(fields) == 6 {
			reason += "; seconds and years are not supported"
		}
		return nil, exprErr("%s", reason)
	}

	specs := fieldSpecs()
	var sets [5]uint64
	for i, spec := range specs {
		set, err := parseField(fields[i], spec)
		if err != nil {
			return nil, &ParseError{Part: spec.name + " field", Value: fields[i], Reason: err.Error()}
		}
		sets[i] = set
	}
	// Sunday may be written 0 or 7; keep it as 0 only.
	if sets[4]&(1<<7) != 0 {
		sets[4] = sets[4]&^(1<<7) | 1
	}
	s.minute, s.hour, s.dom, s.month, s.dow = sets[0], sets[1], sets[2], sets[3], sets[4]
	// As in Vixie cron and cronie (crontab(5)): a day field "is restricted"
	// unless it starts with '*'; only when both are restricted does a day
	// match if either matches.
	s.domStar = strings.HasPrefix(fields[2], "*")
	s.dowStar = strings.HasPrefix(fields[4], "*")
	s.interval = isInterval(fields[0]) || isInterval(fields[1])

	if !s.dayPossible() {
		return nil, exprErr("it never runs: no month it allows has any day of month it allows")
	}
	return s, nil
}

// isInterval reports whether a minute or hour field is written as a wildcard
// or a step, which makes the schedule follow elapsed time across a
// fall-back change (see Schedule).
func isInterval(field string) bool {
	return strings.HasPrefix(field, "*") || strings.Contains(field, "/")
}

func loadZone(tz string) (*time.Location, error) {
	if len(tz) > MaxZoneLen {
		return nil, &ParseError{Part: "time zone", Value: tz[:MaxZoneLen] + "…",
			Reason: fmt.Sprintf("longer than %d characters", MaxZoneLen)}
	}
	if tz == "" {
		return time.UTC, nil
	}
	if tz == "Local" {
		return nil, &ParseError{Part: "time zone", Value: tz, Reason: "name an IANA time zone such as Europe/Berlin"}
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, &ParseError{Part: "time zone", Value: tz, Reason: "unknown IANA time zone (names look like America/New_York or UTC)"}
	}
	return loc, nil
}

func parseEvery(arg string) (time.Duration, error) {
	if arg == "" {
		return 0, fmt.Errorf("@every needs a duration such as 90m or 2h")
	}
	d, err := time.ParseDuration(arg)
	if err != nil {
		return 0, fmt.Errorf("@every duration %q is not a duration such as 90m or 2h", arg)
	}
	if d < minEvery || d > maxEvery {
		return 0, fmt.Errorf("@every duration must be between %v and %v", minEvery, maxEvery)
	}
	if d%time.Minute != 0 {
		return 0, fmt.Errorf("@every duration must be a whole number of minutes")
	}
	return d, nil
}

// parseField returns the set of values (bit v set for value v) that a field
// allows. Its errors are reasons to be wrapped in a *ParseError.
func parseField(text string, spec fieldSpec) (uint64, error) {
	var set uint64
	for item := range strings.SplitSeq(text, ",") {
		if item == "" {
			return 0, fmt.Errorf("empty item in list")
		}
		rangeText, stepText, hasStep := strings.Cut(item, "/")
		var lo, hi int
		if rangeText == "*" {
			lo, hi = spec.min, spec.starMax
		} else {
			loText, hiText, isRange := strings.Cut(rangeText, "-")
			var err error
			if lo, err = parseValue(loText, spec); err != nil {
				return 0, err
			}
			switch {
			case isRange:
				if hi, err = parseValue(hiText, spec); err != nil {
					return 0, err
				}
				if lo > hi {
					return 0, fmt.Errorf("range %s starts after it ends", rangeText)
				}
			case hasStep:
				hi = spec.starMax
				if lo > hi {
					hi = lo
				}
			default:
				hi = lo
			}
		}
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepText)
			if err != nil || !isDigits(stepText) {
				return 0, fmt.Errorf("step %q is not a whole number", stepText)
			}
			if n < 1 || n > spec.starMax-spec.min {
				return 0, fmt.Errorf("step %d must be between 1 and %d", n, spec.starMax-spec.min)
			}
			step = n
		}
		for v := lo; v <= hi; v += step {
			set |= 1 << uint(v)
		}
	}
	return set, nil
}

func parseValue(text string, spec fieldSpec) (int, error) {
	if text == "" {
		return 0, fmt.Errorf("missing value")
	}
	if isDigits(text) {
		n, err := strconv.Atoi(text)
		if err != nil || n < spec.min || n > spec.max {
			return 0, fmt.Errorf("%s is outside %d-%d", text, spec.min, spec.max)
		}
		return n, nil
	}
	lower := strings.ToLower(text)
	for i, name := range spec.names {
		if lower == name {
			return spec.min + i, nil
		}
	}
	if spec.names != nil {
		return 0, fmt.Errorf("%q is neither a number nor a name (%s-%s)", text, spec.names[0], spec.names[len(spec.names)-1])
	}
	return 0, fmt.Errorf("%q is not a number", text)
}

func isDigits(s string) bool {
	if s == "" || len(s) > 4 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
