package broker

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
)

// counter is the cheapest useful Subscriber: it counts what it accepts.
type counter struct{ n atomic.Int64 }

func (c *counter) Deliver(string, []byte) error {
	c.n.Add(1)
	return nil
}

var subscriberCounts = []int{1, 100, 1000, 10000}

// BenchmarkPublish measures one Publish to a topic with n subscribers.
// ns/op is per Publish (divide by n for the cost per subscriber).
func BenchmarkPublish(b *testing.B) {
	payload := []byte(`{"type":"message","room":"room:1","text":"hello, world"}`)

	b.Run("counter", func(b *testing.B) {
		for _, n := range subscriberCounts {
			b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) {
				br := New(Config{})
				defer br.Close()
				for i := 0; i < n; i++ {
					if _, err := br.Subscribe("room:1", &counter{}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if got := br.Publish("room:1", payload); got != n {
						b.Fatalf("Publish = %d, want %d", got, n)
					}
				}
			})
		}
	})

	b.Run("queue", func(b *testing.B) {
		// Queues are drained (untimed) every drainEvery publishes, as a
		// writer goroutine would, so they never overflow and their rings
		// reach a steady size.
		const drainEvery = 64
		for _, n := range subscriberCounts {
			b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) {
				br := New(Config{})
				defer br.Close()
				queues := make([]*Queue, n)
				for i := range queues {
					queues[i] = NewQueue(QueueConfig{})
					if _, err := br.Subscribe("room:1", queues[i]); err != nil {
						b.Fatal(err)
					}
				}
				ctx := context.Background()
				batch := make([][]byte, 0, drainEvery)
				drain := func() {
					for _, q := range queues {
						if k, _ := q.Len(); k > 0 {
							batch, _ = q.Pop(ctx, batch[:0], 0)
						}
					}
				}
				// Warm the rings up to their steady size.
				for i := 0; i < drainEvery; i++ {
					br.Publish("room:1", payload)
				}
				drain()
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if got := br.Publish("room:1", payload); got != n {
						b.Fatalf("Publish = %d, want %d", got, n)
					}
					if i%drainEvery == drainEvery-1 {
						b.StopTimer()
						drain()
						b.StartTimer()
					}
				}
			})
		}
	})
}

// BenchmarkPublishParallel publishes from GOMAXPROCS goroutines. With
// topics=1024 it is a busy server with many small rooms (8 counting
// subscribers each); topics=1 is the worst case, every publisher on one
// topic and so on one shard.
func BenchmarkPublishParallel(b *testing.B) {
	const subsPerTopic = 8
	payload := []byte(`{"type":"message","text":"hello"}`)
	for _, topics := range []int{1, 1024} {
		b.Run(fmt.Sprintf("topics=%d", topics), func(b *testing.B) {
			br := New(Config{})
			defer br.Close()
			names := make([]string, topics)
			for i := range names {
				names[i] = fmt.Sprintf("room:%d", i)
				for j := 0; j < subsPerTopic; j++ {
					if _, err := br.Subscribe(names[i], &counter{}); err != nil {
						b.Fatal(err)
					}
				}
			}
			var seed atomic.Uint32
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := int(seed.Add(1)) * 7919
				for pb.Next() {
					br.Publish(names[i%topics], payload)
					i++
				}
			})
		})
	}
}

// BenchmarkSubscribeCancel measures subscription churn on one large topic.
func BenchmarkSubscribeCancel(b *testing.B) {
	br := New(Config{})
	defer br.Close()
	for i := 0; i < 10000; i++ {
		br.Subscribe("room:1", &counter{})
	}
	c := &counter{}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, _ := br.Subscribe("room:1", c)
		s.Cancel()
	}
}

// BenchmarkQueuePushPop measures a Queue's push and batched pop: each op is
// one Push; a Pop of up to 16 follows every 16 pushes.
func BenchmarkQueuePushPop(b *testing.B) {
	q := NewQueue(QueueConfig{})
	payload := []byte("payload")
	ctx := context.Background()
	batch := make([][]byte, 0, 16)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := q.Push(payload); err != nil {
			b.Fatal(err)
		}
		if i%16 == 15 {
			batch, _ = q.Pop(ctx, batch[:0], 16)
		}
	}
}

// BenchmarkQueueConcurrent measures a producer and a writer goroutine
// sharing a Queue, the way a connection uses it.
func BenchmarkQueueConcurrent(b *testing.B) {
	q := NewQueue(QueueConfig{MaxBytes: 1 << 30})
	payload := []byte("payload")
	done := make(chan struct{})
	go func() {
		defer close(done)
		batch := make([][]byte, 0, 16)
		for {
			var err error
			if batch, err = q.Pop(context.Background(), batch[:0], 16); err != nil {
				return
			}
		}
	}()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := q.Push(payload); err != nil {
			b.Fatal(err)
		}
	}
	q.Close(nil)
	<-done
}
