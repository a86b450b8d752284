//go:build amd64

#include "textflag.h"

// func DWTaps8(out, win, taps, bias *float32, kh, kw, rowStep, tapStep, pixStep int)
//
// Eight pixels' accumulators in Z0-Z7, the tap's 16 weights in Z8; every
// multiply-add reads its pixel from memory. Pixels 0-3 are read from DI
// and pixels 4-7 from R15 (DI + 4·pixStep), each plus 0, pixStep
// (R12), 2·pixStep (R13) or 3·pixStep (R14).
TEXT ·DWTaps8(SB), NOSPLIT, $0-72
	MOVQ bias+24(FP), AX
	VMOVUPS (AX), Z0
	VMOVAPS Z0, Z1
	VMOVAPS Z0, Z2
	VMOVAPS Z0, Z3
	VMOVAPS Z0, Z4
	VMOVAPS Z0, Z5
	VMOVAPS Z0, Z6
	VMOVAPS Z0, Z7
	MOVQ win+8(FP), SI
	MOVQ taps+16(FP), DX
	MOVQ kh+32(FP), R8
	MOVQ kw+40(FP), R9
	MOVQ rowStep+48(FP), R10
	MOVQ tapStep+56(FP), R11
	MOVQ pixStep+64(FP), R12
	LEAQ (R12)(R12*1), R13
	LEAQ (R13)(R12*1), R14

row:
	MOVQ SI, DI
	LEAQ (SI)(R13*2), R15
	MOVQ R9, CX

tap:
	VMOVUPS (DX), Z8
	VFMADD231PS (DI), Z8, Z0
	VFMADD231PS (DI)(R12*1), Z8, Z1
	VFMADD231PS (DI)(R13*1), Z8, Z2
	VFMADD231PS (DI)(R14*1), Z8, Z3
	VFMADD231PS (R15), Z8, Z4
	VFMADD231PS (R15)(R12*1), Z8, Z5
	VFMADD231PS (R15)(R13*1), Z8, Z6
	VFMADD231PS (R15)(R14*1), Z8, Z7
	ADDQ $64, DX
	ADDQ R11, DI
	ADDQ R11, R15
	DECQ CX
	JNZ tap
	ADDQ R10, SI
	DECQ R8
	JNZ row
	MOVQ out+0(FP), AX
	VMOVUPS Z0, 0(AX)
	VMOVUPS Z1, 64(AX)
	VMOVUPS Z2, 128(AX)
	VMOVUPS Z3, 192(AX)
	VMOVUPS Z4, 256(AX)
	VMOVUPS Z5, 320(AX)
	VMOVUPS Z6, 384(AX)
	VMOVUPS Z7, 448(AX)
	VZEROUPPER
	RET
