package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"cellc/runtime/data"
)

// dataFlags choose a data set for train and eval.
type dataFlags struct {
	name, dir string
	val       int
	synthetic int
}

func addDataFlags(cmd *cobra.Command, fl *dataFlags) {
	f := cmd.Flags()
	f.StringVar(&fl.name, "data", "fashion-mnist", "data set: fashion-mnist, mnist, cifar10, folder or synthetic")
	f.StringVar(&fl.dir, "data-dir", "", "where the data set lives (fashion-mnist: found automatically; cifar10: the cifar-10-batches-bin folder; folder: train/ and val/ class folders)")
	f.IntVar(&fl.val, "val", 5000, "images held out of the training set for validation (fashion-mnist, mnist; cifar10 always holds out 5,000)")
	f.IntVar(&fl.synthetic, "synthetic-size", 2048, "training images of the synthetic data set")
}

// dataSets opens the training, validation and test sets and the
// augmentation the paper uses for them. size is the network's image size
// (for folders and synthetic data).
func openData(fl *dataFlags, size, channels, classes int) (train, val, test data.Dataset, aug data.Augment, err error) {
	switch strings.ToLower(fl.name) {
	case "fashion-mnist", "fashion_mnist", "mnist":
		dir := fl.dir
		if dir == "" && fl.name != "mnist" {
			if dir, err = data.FindFashionMNIST(); err != nil {
				return nil, nil, nil, aug, fmt.Errorf("%v (install Debian's dataset-fashion-mnist, or pass --data-dir)", err)
			}
		}
		open := data.FashionMNIST
		if fl.name == "mnist" {
			open = data.MNIST
		}
		var full data.Dataset
		if full, test, err = open(dir); err != nil {
			return nil, nil, nil, aug, err
		}
		train, val = holdOut(full, fl.val)
		aug = data.Augment{PadCrop: 2, Flip: true}
	case "cifar10", "cifar":
		if fl.dir == "" {
			return nil, nil, nil, aug, fmt.Errorf("--data cifar10 needs --data-dir (the folder with data_batch_1.bin .. test_batch.bin)")
		}
		if train, val, test, err = data.CIFAR10(fl.dir); err != nil {
			return nil, nil, nil, aug, err
		}
		aug = data.Augment{PadCrop: 4, Flip: true}
	case "folder":
		if fl.dir == "" {
			return nil, nil, nil, aug, fmt.Errorf("--data folder needs --data-dir with train/ and val/ class folders")
		}
		big := data.ResizeFor(size)
		if train, err = data.ImageFolder(fl.dir+"/train", big); err != nil {
			return nil, nil, nil, aug, err
		}
		v, err := data.ImageFolder(fl.dir+"/val", big)
		if err != nil {
			return nil, nil, nil, aug, err
		}
		val = data.CenterCrop(v, size)
		aug = data.Augment{Crop: size, Flip: true}
	case "synthetic":
		shape := data.Shape{C: channels, H: size, W: size}
		train = data.Synthetic(fl.synthetic, shape, classes, 1)
		val = data.Synthetic(max(fl.synthetic/8, 64), shape, classes, 2)
	default:
		return nil, nil, nil, aug, fmt.Errorf("unknown data set %q (want fashion-mnist, mnist, cifar10, folder or synthetic)", fl.name)
	}
	return train, val, test, aug, nil
}

// holdOut splits the last n images off as a validation set. The IDX files
// are not ordered by class, so the tail is a fair sample.
func holdOut(ds data.Dataset, n int) (train, val data.Dataset) {
	if n <= 0 || n >= ds.Len() {
		return ds, nil
	}
	cut := ds.Len() - n
	a := make([]int, cut)
	for i := range a {
		a[i] = i
	}
	b := make([]int, n)
	for i := range b {
		b[i] = cut + i
	}
	return data.Subset(ds, a), data.Subset(ds, b)
}
