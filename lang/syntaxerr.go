package lang

import (
	"errors"

	"github.com/alecthomas/participle/v2"
)

func (p *parser) syntaxError(err error) int {
	var perr participle.Error
	if !errors.As(err, &perr) {
		p.diags.Errorf(p.span(0, 0), "%v", err)
		return 0
	}
	off := perr.Position().Offset
	p.diags.Errorf(p.span(off, off), "RAW %s", perr.Message())
	return off
}
