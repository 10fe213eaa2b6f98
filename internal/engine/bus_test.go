package engine

import (
	"log/slog"
	"testing"
)

// TestSubscriptionsLearnTheEnd: a subscription hears that its execution
// ended (finished, or cancelled and stopped) after the text published
// before it, and only that: stored events wake it without saying so.
func TestSubscriptionsLearnTheEnd(t *testing.T) {
	b := NewBus("", slog.New(slog.DiscardHandler))
	for _, end := range []struct {
		name string
		send func(id string)
	}{{"finished", b.Finished}, {"cancelled", b.Cancel}} {
		sub := b.Subscribe("exe_" + end.name)
		b.StepDelta("exe_"+end.name, "a", "text")
		b.EventsStored("exe_" + end.name)
		select {
		case <-sub.Ended:
			t.Fatalf("%s: stored events said the execution ended", end.name)
		default:
		}
		end.send("exe_" + end.name)
		select {
		case <-sub.Ended:
		default:
			t.Fatalf("%s: the end did not reach the subscription", end.name)
		}
		select {
		case d := <-sub.Deltas:
			if d.Text != "text" {
				t.Errorf("%s: delta %+v", end.name, d)
			}
		default:
			t.Errorf("%s: the text published before the end is gone", end.name)
		}
		sub.Close()
	}
}
