package data

// augment writes src (shape in) into dst (shape out) with a's pad, crop,
// flip and cutout, drawing from r in a fixed order: crop offsets, flip,
// cutout centre.
func augment(dst []float32, out Shape, src []float32, in Shape, a Augment, r *rng) {
	p := a.PadCrop
	oy, ox := 0, 0 // window offset in padded coordinates
	if ry := in.H + 2*p - out.H; ry > 0 {
		oy = r.intn(ry + 1)
	}
	if rx := in.W + 2*p - out.W; rx > 0 {
		ox = r.intn(rx + 1)
	}
	flip := a.Flip && r.next()&1 == 1

	// Columns of the window inside the image: x in [x0, x1) reads src
	// column x+ox-p.
	x0 := max(0, p-ox)
	x1 := min(out.W, p-ox+in.W)
	for c := 0; c < out.C; c++ {
		for y := 0; y < out.H; y++ {
			row := dst[(c*out.H+y)*out.W : (c*out.H+y+1)*out.W]
			sy := y + oy - p
			if sy < 0 || sy >= in.H || x0 >= x1 {
				clear(row)
				continue
			}
			srow := src[(c*in.H+sy)*in.W : (c*in.H+sy+1)*in.W]
			if !flip {
				clear(row[:x0])
				clear(row[x1:])
				copy(row[x0:x1], srow[x0+ox-p:x1+ox-p])
				continue
			}
			// Mirrored: window column x lands at out.W-1-x.
			clear(row[:out.W-x1])
			clear(row[out.W-x0:])
			s := srow[x0+ox-p : x1+ox-p]
			d := row[out.W-x1 : out.W-x0]
			for i, v := range s {
				d[len(d)-1-i] = v
			}
		}
	}

	if s := a.Cutout; s > 0 {
		cy, cx := r.intn(out.H), r.intn(out.W)
		y0, y1 := max(0, cy-s/2), min(out.H, cy-s/2+s)
		xa, xb := max(0, cx-s/2), min(out.W, cx-s/2+s)
		for c := 0; c < out.C; c++ {
			for y := y0; y < y1; y++ {
				clear(dst[(c*out.H+y)*out.W+xa : (c*out.H+y)*out.W+xb])
			}
		}
	}
}
