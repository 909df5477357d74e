package broker_test

import (
	"context"
	"fmt"

	"github.com/oshichat/oshi/broker"
)

// A connection subscribes its outgoing Queue to a topic; a publisher's
// payload is queued without blocking and the connection's writer pops it.
func ExampleNew() {
	b := broker.New(broker.Config{})
	defer b.Close()

	q := broker.NewQueue(broker.QueueConfig{})
	sub, err := b.Subscribe("room:42", q)
	if err != nil {
		panic(err)
	}
	defer sub.Cancel()

	n := b.Publish("room:42", []byte(`{"text":"hello"}`))
	fmt.Println("accepted by", n)

	msgs, err := q.Pop(context.Background(), nil, 0)
	for _, m := range msgs {
		fmt.Println(string(m))
	}
	fmt.Println("err:", err)
	// Output:
	// accepted by 1
	// {"text":"hello"}
	// err: <nil>
}

// Publish encodes nothing: the bytes are encoded once by the caller and the
// same slice is queued for every subscriber of the topic, and only that
// topic.
func ExampleBroker_Publish() {
	b := broker.New(broker.Config{})
	defer b.Close()

	alice := broker.NewQueue(broker.QueueConfig{})
	bob := broker.NewQueue(broker.QueueConfig{})
	carol := broker.NewQueue(broker.QueueConfig{})
	b.Subscribe("room:1", alice)
	b.Subscribe("room:1", bob)
	b.Subscribe("room:2", carol)

	fmt.Println(b.Publish("room:1", []byte("hi room 1")))
	fmt.Println(b.Publish("room:1", []byte("still here?")))
	fmt.Println(b.Publish("room:3", []byte("anyone?")))

	// A writer goroutine would loop on Pop; here we drain once, at most 16
	// payloads per batch, reusing the batch slice.
	var batch [][]byte
	for _, q := range []*broker.Queue{alice, bob, carol} {
		n, _ := q.Len()
		if n == 0 {
			fmt.Println("(nothing)")
			continue
		}
		batch, _ = q.Pop(context.Background(), batch[:0], 16)
		fmt.Printf("%q\n", batch)
	}

	st := b.Stats()
	fmt.Printf("topics=%d subscribers=%d published=%d delivered=%d\n",
		st.Topics, st.Subscribers, st.Published, st.Delivered)
	// Output:
	// 2
	// 2
	// 0
	// ["hi room 1" "still here?"]
	// ["hi room 1" "still here?"]
	// (nothing)
	// topics=2 subscribers=3 published=3 delivered=4
}

// A Queue that would grow past MaxBytes closes itself with ErrSlowConsumer:
// the publisher is not blocked, the overflow is reported once, and the
// queue's owner sees the reason from Pop and disconnects the client.
func ExampleQueue() {
	b := broker.New(broker.Config{})
	defer b.Close()

	q := broker.NewQueue(broker.QueueConfig{MaxBytes: 10})
	b.Subscribe("feed", q)

	for _, p := range []string{"12345", "6789", "overflow", "after"} {
		n := b.Publish("feed", []byte(p))
		fmt.Printf("publish %q: accepted by %d\n", p, n)
	}

	_, err := q.Pop(context.Background(), nil, 0)
	fmt.Println("Pop:", err)
	fmt.Println("Err:", q.Err())

	st := b.Stats()
	fmt.Printf("slow consumers=%d dropped=%d subscribers=%d\n",
		st.SlowConsumers, st.Dropped, st.Subscribers)
	// Output:
	// publish "12345": accepted by 1
	// publish "6789": accepted by 1
	// publish "overflow": accepted by 0
	// publish "after": accepted by 0
	// Pop: broker: slow consumer
	// Err: broker: slow consumer
	// slow consumers=1 dropped=2 subscribers=0
}

// A connection's writer goroutine drains its Queue in batches. Closing the
// queue with a nil reason lets the writer flush what is queued first.
func ExampleQueue_Pop() {
	q := broker.NewQueue(broker.QueueConfig{})
	q.Push([]byte("a"))
	q.Push([]byte("b"))
	q.Push([]byte("c"))
	q.Close(nil) // graceful: queued payloads are still handed out

	done := make(chan struct{})
	go func() { // the connection's single writer
		defer close(done)
		var batch [][]byte
		for {
			var err error
			batch, err = q.Pop(context.Background(), batch[:0], 2)
			if err != nil {
				fmt.Println("writer stops:", err)
				return
			}
			fmt.Printf("write %q\n", batch) // one network write per batch
		}
	}()
	<-done
	// Output:
	// write ["a" "b"]
	// write ["c"]
	// writer stops: broker: closed
}
