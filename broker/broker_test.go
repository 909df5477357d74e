package broker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestMain fails the run if goroutines started by the tests outlive them.
func TestMain(m *testing.M) {
	before := runtime.NumGoroutine()
	code := m.Run()
	if code == 0 {
		after := runtime.NumGoroutine()
		for i := 0; i < 100 && after > before; i++ {
			time.Sleep(10 * time.Millisecond)
			after = runtime.NumGoroutine()
		}
		if after > before {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			fmt.Fprintf(os.Stderr, "goroutine leak: %d before, %d after\n%s\n", before, after, buf)
			code = 1
		}
	}
	os.Exit(code)
}

// recorder is a Subscriber that records what it receives.
type recorder struct {
	mu   sync.Mutex
	got  []string
	err  error        // returned by Deliver when set
	hook func() error // called by Deliver when set; its error is returned
}

func (r *recorder) Deliver(topic string, payload []byte) error {
	r.mu.Lock()
	r.got = append(r.got, topic+"="+string(payload))
	err, hook := r.err, r.hook
	r.mu.Unlock()
	if hook != nil {
		return hook()
	}
	return err
}

func (r *recorder) received() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func mustSubscribe(t *testing.T, b *Broker, topic string, s Subscriber) *Subscription {
	t.Helper()
	sub, err := b.Subscribe(topic, s)
	if err != nil {
		t.Fatalf("Subscribe(%q): %v", topic, err)
	}
	return sub
}

func TestPublishRouting(t *testing.T) {
	tests := []struct {
		name   string
		shards int
		subs   map[string]int // topic -> number of subscribers
		topic  string
		want   int
	}{
		{"no topics", 0, nil, "a", 0},
		{"other topic only", 0, map[string]int{"b": 2}, "a", 0},
		{"single subscriber", 0, map[string]int{"a": 1}, "a", 1},
		{"only that topic", 0, map[string]int{"a": 3, "b": 2, "c": 1}, "a", 3},
		{"one shard", 1, map[string]int{"a": 3, "b": 2, "c": 1}, "b", 2},
		{"odd shard count", 7, map[string]int{"a": 3, "b": 2, "c": 1}, "c", 1},
		{"empty topic name", 0, map[string]int{"": 2, "a": 1}, "", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := New(Config{Shards: tc.shards})
			defer b.Close()
			recs := map[string][]*recorder{}
			for topic, n := range tc.subs {
				for i := 0; i < n; i++ {
					r := &recorder{}
					recs[topic] = append(recs[topic], r)
					mustSubscribe(t, b, topic, r)
				}
			}
			if got := b.Publish(tc.topic, []byte("x")); got != tc.want {
				t.Fatalf("Publish = %d, want %d", got, tc.want)
			}
			for topic, rs := range recs {
				for i, r := range rs {
					var want []string
					if topic == tc.topic {
						want = []string{tc.topic + "=x"}
					}
					if got := r.received(); !equal(got, want) {
						t.Errorf("subscriber %d of %q got %q, want %q", i, topic, got, want)
					}
				}
			}
		})
	}
}

func TestPublishSharesPayload(t *testing.T) {
	b := New(Config{})
	defer b.Close()
	var ptrs []*byte
	var mu sync.Mutex
	for i := 0; i < 3; i++ {
		mustSubscribe(t, b, "t", subscriberFunc(func(_ string, p []byte) error {
			mu.Lock()
			ptrs = append(ptrs, &p[0])
			mu.Unlock()
			return nil
		}))
	}
	payload := []byte("encoded once")
	b.Publish("t", payload)
	for i, p := range ptrs {
		if p != &payload[0] {
			t.Errorf("subscriber %d got a copy of the payload", i)
		}
	}
}

type subscriberFunc func(topic string, payload []byte) error

func (f subscriberFunc) Deliver(topic string, payload []byte) error { return f(topic, payload) }

func TestSubscriptionTopic(t *testing.T) {
	b := New(Config{})
	defer b.Close()
	sub := mustSubscribe(t, b, "room:1", &recorder{})
	if got := sub.Topic(); got != "room:1" {
		t.Fatalf("Topic = %q", got)
	}
	sub.Cancel()
	if got := sub.Topic(); got != "room:1" {
		t.Fatalf("Topic after Cancel = %q", got)
	}
}

func TestCancel(t *testing.T) {
	tests := []struct {
		name    string
		n       int   // subscribers on topic "t"
		cancel  []int // indexes to cancel, in order (repeats test idempotence)
		wantN   int
		wantTop int // Stats.Topics afterwards
	}{
		{"cancel only subscriber", 1, []int{0}, 0, 0},
		{"cancel twice", 1, []int{0, 0, 0}, 0, 0},
		{"cancel first of three", 3, []int{0}, 2, 1},
		{"cancel middle of three", 3, []int{1}, 2, 1},
		{"cancel last of three", 3, []int{2}, 2, 1},
		{"cancel most of many", 10, []int{0, 2, 4, 6, 8, 1, 3, 5, 5, 5}, 2, 1},
		{"cancel all of many", 5, []int{4, 3, 2, 1, 0, 2}, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := New(Config{})
			defer b.Close()
			recs := make([]*recorder, tc.n)
			subs := make([]*Subscription, tc.n)
			for i := range recs {
				recs[i] = &recorder{}
				subs[i] = mustSubscribe(t, b, "t", recs[i])
			}
			canceled := map[int]bool{}
			for _, i := range tc.cancel {
				subs[i].Cancel()
				canceled[i] = true
			}
			if got := b.Publish("t", []byte("m")); got != tc.wantN {
				t.Fatalf("Publish = %d, want %d", got, tc.wantN)
			}
			for i, r := range recs {
				got := len(r.received())
				if want := map[bool]int{true: 0, false: 1}[canceled[i]]; got != want {
					t.Errorf("subscriber %d (canceled %v) got %d payloads", i, canceled[i], got)
				}
			}
			st := b.Stats()
			if st.Subscribers != tc.wantN || st.Topics != tc.wantTop {
				t.Errorf("Stats = %+v, want Subscribers %d Topics %d", st, tc.wantN, tc.wantTop)
			}
			// The topic works again after all its subscribers left.
			r := &recorder{}
			mustSubscribe(t, b, "t", r)
			if got := b.Publish("t", []byte("m")); got != tc.wantN+1 {
				t.Errorf("Publish after resubscribe = %d, want %d", got, tc.wantN+1)
			}
		})
	}
}

func TestCancelInsideDeliver(t *testing.T) {
	tests := []struct {
		name string
		self bool // cancel its own subscription, else the next one's
	}{
		{"self", true},
		{"other", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := New(Config{})
			defer b.Close()
			var subA, subB *Subscription
			a := &recorder{}
			a.hook = func() error {
				if tc.self {
					subA.Cancel()
					subA.Cancel() // idempotent, still inside Deliver
				} else {
					subB.Cancel()
				}
				return nil
			}
			bRec := &recorder{}
			subA = mustSubscribe(t, b, "t", a)
			subB = mustSubscribe(t, b, "t", bRec)

			first := b.Publish("t", []byte("1"))
			b.Publish("t", []byte("2"))
			if tc.self {
				if first != 2 {
					t.Errorf("first Publish = %d, want 2", first)
				}
				if got := a.received(); !equal(got, []string{"t=1"}) {
					t.Errorf("canceled subscriber got %q", got)
				}
				if got := bRec.received(); !equal(got, []string{"t=1", "t=2"}) {
					t.Errorf("other subscriber got %q", got)
				}
			} else {
				// B was canceled before the first Publish reached it.
				if first != 1 {
					t.Errorf("first Publish = %d, want 1", first)
				}
				if got := bRec.received(); len(got) != 0 {
					t.Errorf("canceled subscriber got %q", got)
				}
				if got := a.received(); !equal(got, []string{"t=1", "t=2"}) {
					t.Errorf("subscriber got %q", got)
				}
			}
		})
	}
}

func TestSubscribeAndPublishInsideDeliver(t *testing.T) {
	b := New(Config{Shards: 1}) // same shard for both topics
	defer b.Close()
	late := &recorder{}
	var once sync.Once
	mustSubscribe(t, b, "a", subscriberFunc(func(_ string, p []byte) error {
		once.Do(func() {
			if _, err := b.Subscribe("b", late); err != nil {
				t.Error(err)
			}
			b.Publish("b", p)
		})
		return nil
	}))
	b.Publish("a", []byte("x"))
	if got := late.received(); !equal(got, []string{"b=x"}) {
		t.Fatalf("got %q", got)
	}
}

func TestStats(t *testing.T) {
	b := New(Config{})
	defer b.Close()
	ok1, ok2 := &recorder{}, &recorder{}
	refuse := &recorder{err: errors.New("nope")}
	q := NewQueue(QueueConfig{MaxBytes: 4})
	mustSubscribe(t, b, "a", ok1)
	mustSubscribe(t, b, "a", refuse)
	mustSubscribe(t, b, "a", q)
	mustSubscribe(t, b, "b", ok2)

	want := Stats{Topics: 2, Subscribers: 4}
	if got := b.Stats(); got != want {
		t.Fatalf("initial Stats = %+v, want %+v", got, want)
	}

	steps := []struct {
		topic   string
		payload string
		want    int
		stats   Stats
	}{
		// ok1 accepts, refuse drops, q accepts 3 of 4 bytes.
		{"a", "abc", 2, Stats{Topics: 2, Subscribers: 4, Published: 1, Delivered: 2, Dropped: 1}},
		// q overflows: slow consumer, queue closes.
		{"a", "de", 1, Stats{Topics: 2, Subscribers: 4, Published: 2, Delivered: 3, Dropped: 3, SlowConsumers: 1}},
		// q now returns ErrClosed and is canceled lazily.
		{"a", "f", 1, Stats{Topics: 2, Subscribers: 3, Published: 3, Delivered: 4, Dropped: 5, SlowConsumers: 1}},
		// q is gone: only refuse drops.
		{"a", "g", 1, Stats{Topics: 2, Subscribers: 3, Published: 4, Delivered: 5, Dropped: 6, SlowConsumers: 1}},
		{"b", "h", 1, Stats{Topics: 2, Subscribers: 3, Published: 5, Delivered: 6, Dropped: 6, SlowConsumers: 1}},
		{"nobody", "i", 0, Stats{Topics: 2, Subscribers: 3, Published: 6, Delivered: 6, Dropped: 6, SlowConsumers: 1}},
	}
	for i, s := range steps {
		if got := b.Publish(s.topic, []byte(s.payload)); got != s.want {
			t.Errorf("step %d: Publish = %d, want %d", i, got, s.want)
		}
		if got := b.Stats(); got != s.stats {
			t.Errorf("step %d: Stats = %+v, want %+v", i, got, s.stats)
		}
	}
	if err := q.Err(); err != ErrSlowConsumer {
		t.Errorf("queue Err = %v, want ErrSlowConsumer", err)
	}
}

func TestWrappedErrClosedCancels(t *testing.T) {
	b := New(Config{})
	defer b.Close()
	r := &recorder{err: fmt.Errorf("conn gone: %w", ErrClosed)}
	mustSubscribe(t, b, "t", r)
	b.Publish("t", []byte("1"))
	b.Publish("t", []byte("2"))
	if got := len(r.received()); got != 1 {
		t.Fatalf("closed subscriber got %d deliveries, want 1", got)
	}
	if st := b.Stats(); st.Subscribers != 0 || st.Topics != 0 {
		t.Fatalf("Stats = %+v, want no subscribers", st)
	}
}

func TestClose(t *testing.T) {
	b := New(Config{Shards: 4})
	r := &recorder{}
	subs := []*Subscription{
		mustSubscribe(t, b, "a", r),
		mustSubscribe(t, b, "b", r),
		mustSubscribe(t, b, "c", r),
	}
	b.Close()
	b.Close() // idempotent

	if got := b.Publish("a", []byte("x")); got != 0 {
		t.Errorf("Publish after Close = %d", got)
	}
	if len(r.received()) != 0 {
		t.Errorf("delivered after Close: %q", r.received())
	}
	if _, err := b.Subscribe("a", r); err != ErrClosed {
		t.Errorf("Subscribe after Close err = %v, want ErrClosed", err)
	}
	for _, s := range subs {
		s.Cancel() // harmless after Close
	}
	st := b.Stats()
	if st.Topics != 0 || st.Subscribers != 0 {
		t.Errorf("Stats after Close = %+v", st)
	}
}

func TestSubscribeNilPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Subscribe(nil) did not panic")
		}
	}()
	New(Config{}).Subscribe("t", nil)
}

func TestQueueFIFOAndPopMax(t *testing.T) {
	tests := []struct {
		name  string
		push  int
		max   int
		pops  []int // expected batch sizes
		cycle int   // repeat push/pop to exercise ring wrap-around
	}{
		{"all at once", 5, 0, []int{5}, 1},
		{"max 1", 3, 1, []int{1, 1, 1}, 1},
		{"max 2 of 5", 5, 2, []int{2, 2, 1}, 1},
		{"max larger than queued", 3, 10, []int{3}, 1},
		{"wrap around", 7, 3, []int{3, 3, 1}, 5},
		{"grow past keep", 100, 0, []int{100}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := NewQueue(QueueConfig{})
			ctx := context.Background()
			next, want := 0, 0
			for c := 0; c < tc.cycle; c++ {
				for i := 0; i < tc.push; i++ {
					if err := q.Push([]byte(fmt.Sprint(next))); err != nil {
						t.Fatal(err)
					}
					next++
				}
				for _, size := range tc.pops {
					got, err := q.Pop(ctx, nil, tc.max)
					if err != nil {
						t.Fatal(err)
					}
					if len(got) != size {
						t.Fatalf("cycle %d: Pop returned %d payloads, want %d", c, len(got), size)
					}
					for _, p := range got {
						if string(p) != fmt.Sprint(want) {
							t.Fatalf("got %q, want %d", p, want)
						}
						want++
					}
				}
				if n, bytes := q.Len(); n != 0 || bytes != 0 {
					t.Fatalf("Len = %d, %d after draining", n, bytes)
				}
			}
		})
	}
}

func TestQueuePopAppendsToDst(t *testing.T) {
	q := NewQueue(QueueConfig{})
	q.Push([]byte("b"))
	dst := [][]byte{[]byte("a")}
	got, err := q.Pop(context.Background(), dst, 0)
	if err != nil || len(got) != 2 || string(got[0]) != "a" || string(got[1]) != "b" {
		t.Fatalf("Pop = %q, %v", got, err)
	}
}

func TestQueuePopBlocksUntilPush(t *testing.T) {
	q := NewQueue(QueueConfig{})
	res := make(chan [][]byte)
	go func() {
		got, _ := q.Pop(context.Background(), nil, 0)
		res <- got
	}()
	select {
	case got := <-res:
		t.Fatalf("Pop returned %q on an empty queue", got)
	case <-time.After(20 * time.Millisecond):
	}
	q.Push([]byte("x"))
	select {
	case got := <-res:
		if len(got) != 1 || string(got[0]) != "x" {
			t.Fatalf("got %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Pop not woken by Push")
	}
}

func TestQueuePopContext(t *testing.T) {
	q := NewQueue(QueueConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() {
		_, err := q.Pop(ctx, nil, 0)
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond)
	cancel()
	select {
	case err := <-errc:
		if err != context.Canceled {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Pop not woken by ctx")
	}

	// A deadline that has passed still returns queued payloads first.
	ctx, cancel = context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	<-ctx.Done()
	q.Push([]byte("x"))
	if got, err := q.Pop(ctx, nil, 0); err != nil || len(got) != 1 {
		t.Fatalf("Pop with ended ctx and data = %q, %v", got, err)
	}
	if _, err := q.Pop(ctx, nil, 0); err != context.DeadlineExceeded {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
}

func TestQueueOverflow(t *testing.T) {
	tests := []struct {
		name     string
		maxBytes int
		pushes   []int // payload sizes
		wantErrs []error
	}{
		{"fits exactly", 4, []int{2, 2}, []error{nil, nil}},
		{"overflow once then closed", 4, []int{3, 2, 1, 1}, []error{nil, ErrSlowConsumer, ErrClosed, ErrClosed}},
		{"large payload into an empty queue", 4, []int{5}, []error{nil}},
		{"anything after a large payload", 4, []int{5, 1, 1}, []error{nil, ErrSlowConsumer, ErrClosed}},
		{"empty payloads", 1, []int{0, 0, 1, 1}, []error{nil, nil, nil, ErrSlowConsumer}},
		{"default 1 MiB", 0, []int{1 << 19, 1 << 19, 1}, []error{nil, nil, ErrSlowConsumer}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := NewQueue(QueueConfig{MaxBytes: tc.maxBytes})
			slow := false
			for i, size := range tc.pushes {
				err := q.Deliver("t", make([]byte, size))
				if err != tc.wantErrs[i] {
					t.Fatalf("push %d: err = %v, want %v", i, err, tc.wantErrs[i])
				}
				slow = slow || err == ErrSlowConsumer
			}
			if !slow {
				if q.Err() != nil {
					t.Fatalf("Err = %v on open queue", q.Err())
				}
				return
			}
			if err := q.Err(); err != ErrSlowConsumer {
				t.Fatalf("Err = %v, want ErrSlowConsumer", err)
			}
			select {
			case <-q.Done():
			default:
				t.Fatal("Done not closed")
			}
			// Queued payloads are discarded; Pop reports the reason at once.
			if got, err := q.Pop(context.Background(), nil, 0); err != ErrSlowConsumer || len(got) != 0 {
				t.Fatalf("Pop = %d payloads, %v", len(got), err)
			}
			if n, b := q.Len(); n != 0 || b != 0 {
				t.Fatalf("Len = %d, %d", n, b)
			}
		})
	}
}

func TestQueueClose(t *testing.T) {
	tests := []struct {
		name    string
		reasons []error // Close calls in order; first wins
		wantErr error
		drain   bool
	}{
		{"graceful", []error{nil}, ErrClosed, true},
		{"graceful wins", []error{nil, errors.New("later")}, ErrClosed, true},
		{"reason", []error{ErrSlowConsumer}, ErrSlowConsumer, false},
		{"reason wins", []error{ErrSlowConsumer, nil}, ErrSlowConsumer, false},
		{"explicit ErrClosed discards", []error{ErrClosed}, ErrClosed, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := NewQueue(QueueConfig{})
			q.Push([]byte("a"))
			q.Push([]byte("b"))
			for _, r := range tc.reasons {
				q.Close(r)
			}
			if err := q.Err(); err != tc.wantErr {
				t.Fatalf("Err = %v, want %v", err, tc.wantErr)
			}
			if err := q.Push([]byte("c")); err != ErrClosed {
				t.Fatalf("Push after Close = %v", err)
			}
			ctx := context.Background()
			if tc.drain {
				got, err := q.Pop(ctx, nil, 1)
				if err != nil || len(got) != 1 || string(got[0]) != "a" {
					t.Fatalf("drain 1 = %q, %v", got, err)
				}
				got, err = q.Pop(ctx, nil, 0)
				if err != nil || len(got) != 1 || string(got[0]) != "b" {
					t.Fatalf("drain 2 = %q, %v", got, err)
				}
			}
			if got, err := q.Pop(ctx, nil, 0); err != tc.wantErr || len(got) != 0 {
				t.Fatalf("final Pop = %q, %v, want %v", got, err, tc.wantErr)
			}
		})
	}
}

func TestQueueTryPop(t *testing.T) {
	q := NewQueue(QueueConfig{})
	if got, err := q.TryPop(nil, 0); err != nil || len(got) != 0 {
		t.Fatalf("TryPop on an empty queue = %q, %v; want nothing, nil", got, err)
	}
	for _, p := range []string{"a", "b", "c"} {
		q.Push([]byte(p))
	}
	got, err := q.TryPop(nil, 2)
	if err != nil || len(got) != 2 || string(got[0]) != "a" || string(got[1]) != "b" {
		t.Fatalf("TryPop(max 2) = %q, %v; want [a b]", got, err)
	}
	q.Close(nil)
	if got, err = q.TryPop(nil, 0); err != nil || len(got) != 1 || string(got[0]) != "c" {
		t.Fatalf("TryPop after a graceful close = %q, %v; want [c] first", got, err)
	}
	if got, err = q.TryPop(nil, 0); err != ErrClosed || len(got) != 0 {
		t.Fatalf("TryPop on a drained closed queue = %q, %v; want ErrClosed", got, err)
	}
}

func TestQueueCloseWakesPop(t *testing.T) {
	q := NewQueue(QueueConfig{})
	errc := make(chan error)
	go func() {
		_, err := q.Pop(context.Background(), nil, 0)
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond)
	q.Close(nil)
	select {
	case err := <-errc:
		if err != ErrClosed {
			t.Fatalf("err = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Pop not woken by Close")
	}
}

func TestQueueIdleMemoryReleased(t *testing.T) {
	q := NewQueue(QueueConfig{})
	for i := 0; i < 1000; i++ {
		q.Push([]byte("x"))
	}
	q.Pop(context.Background(), nil, 0)
	q.mu.Lock()
	kept := len(q.ring)
	q.mu.Unlock()
	if kept <= keepRing {
		t.Fatalf("busy queue dropped its ring (%d slots)", kept)
	}
	// The next Pop finds the queue idle and must release the ring.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := q.Pop(ctx, nil, 0); err != context.Canceled {
		t.Fatalf("Pop = %v", err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.ring) > keepRing || q.waiters != 0 {
		t.Fatalf("idle queue keeps a ring of %d slots, %d waiters", len(q.ring), q.waiters)
	}
}

// TestConcurrent runs publishers, subscribers and cancellers at once; it is
// meant for -race and checks the counters add up.
func TestConcurrent(t *testing.T) {
	b := New(Config{Shards: 4})
	defer b.Close()
	topics := []string{"a", "b", "c", "d", "e"}
	const (
		publishers = 4
		churners   = 4
		rounds     = 300
	)
	var accepted atomic.Uint64
	var wg sync.WaitGroup

	// Long-lived queue subscribers drained by writer goroutines.
	var writers sync.WaitGroup
	queues := make([]*Queue, len(topics))
	for i, topic := range topics {
		q := NewQueue(QueueConfig{MaxBytes: 1 << 30})
		queues[i] = q
		mustSubscribe(t, b, topic, q)
		writers.Add(1)
		go func() {
			defer writers.Done()
			var buf [][]byte
			for {
				var err error
				buf, err = q.Pop(context.Background(), buf[:0], 16)
				if err != nil {
					return
				}
			}
		}()
	}

	for p := 0; p < publishers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				accepted.Add(uint64(b.Publish(topics[(i+p)%len(topics)], []byte("m"))))
			}
		}()
	}
	for c := 0; c < churners; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var held []*Subscription
			for i := 0; i < rounds; i++ {
				sub, err := b.Subscribe(topics[(i*7+c)%len(topics)], subscriberFunc(func(string, []byte) error {
					if i%5 == 0 {
						return ErrClosed // exercises lazy cancel
					}
					return nil
				}))
				if err != nil {
					t.Error(err)
					return
				}
				held = append(held, sub)
				if i%3 == 0 {
					for _, s := range held {
						s.Cancel()
					}
					held = held[:0]
				}
				if i%50 == 0 {
					b.Stats()
				}
			}
			for _, s := range held {
				s.Cancel()
				s.Cancel()
			}
		}()
	}
	wg.Wait()

	st := b.Stats()
	if st.Subscribers != len(topics) || st.Topics != len(topics) {
		t.Errorf("after churn Stats = %+v, want %d topics and subscribers", st, len(topics))
	}
	if st.Published != publishers*rounds {
		t.Errorf("Published = %d, want %d", st.Published, publishers*rounds)
	}
	if st.Delivered != accepted.Load() {
		t.Errorf("Delivered = %d, sum of Publish results = %d", st.Delivered, accepted.Load())
	}
	b.Close()
	for _, q := range queues {
		q.Close(nil)
	}
	writers.Wait()
}

func TestQueueConcurrentPushPop(t *testing.T) {
	q := NewQueue(QueueConfig{MaxBytes: 1 << 30})
	const producers, per = 4, 500
	var wg sync.WaitGroup
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				if err := q.Push([]byte{byte(p)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	done := make(chan int)
	go func() {
		n := 0
		var buf [][]byte
		for {
			var err error
			buf, err = q.Pop(context.Background(), buf[:0], 7)
			n += len(buf)
			if err != nil {
				done <- n
				return
			}
		}
	}()
	wg.Wait()
	q.Close(nil) // graceful: the consumer still gets everything
	if n := <-done; n != producers*per {
		t.Fatalf("popped %d, want %d", n, producers*per)
	}
}
