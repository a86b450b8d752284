package data_test

import (
	"fmt"

	"cellc/runtime/data"
)

// A training loop's view: CIFAR-shaped synthetic data, shuffled and
// augmented as in the paper, resumed mid-epoch.
func ExampleLoader() {
	ds := data.Synthetic(1000, data.Shape{C: 3, H: 32, W: 32}, 10, 1)
	l := data.NewLoader(ds, data.LoaderConfig{
		BatchSize: 128,
		Shuffle:   true,
		Seed:      7,
		Augment:   data.Augment{PadCrop: 4, Flip: true, Cutout: 16},
		Workers:   4,
	})
	defer l.Close()

	it := l.EpochFrom(0, 5) // resume epoch 0 at step 5
	for b, ok := it.Next(); ok; b, ok = it.Next() {
		fmt.Println(b.Step, b.N, len(b.X) == b.N*l.Shape().Elems())
	}
	if err := it.Err(); err != nil {
		fmt.Println(err)
	}
	// Output:
	// 5 128 true
	// 6 128 true
	// 7 104 true
}
