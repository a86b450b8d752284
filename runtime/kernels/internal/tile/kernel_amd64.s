//go:build amd64

#include "textflag.h"

// func Kernel6x16(k int, a, b *float32, ldb int, c *float32, ldc int, bias, mask *float32, ldm, mr, accumulate int)
//
// Twelve accumulators hold the 6×16 tile; Y12, Y13 hold a row of b and
// Y14, Y15 alternate as the broadcast a values, so that each FMA pair
// can start before the previous broadcast is consumed. The epilogue, row
// by row up to mr: add the bias, zero where the mask is not positive, add
// the old tile when accumulating, store.
TEXT ·Kernel6x16(SB), NOSPLIT, $0-88
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ ldb+24(FP), R8
	SHLQ $2, R8
	MOVQ c+32(FP), DX
	MOVQ ldc+40(FP), R9
	SHLQ $2, R9
	MOVQ bias+48(FP), R10
	MOVQ mask+56(FP), R13
	MOVQ ldm+64(FP), R14
	SHLQ $2, R14
	MOVQ mr+72(FP), R11
	MOVQ accumulate+80(FP), R12
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	TESTQ CX, CX
	JEQ epilogue
loop:
	VMOVUPS (DI), Y12
	VMOVUPS 32(DI), Y13
	VBROADCASTSS 0(SI), Y14
	VFMADD231PS Y12, Y14, Y0
	VFMADD231PS Y13, Y14, Y1
	VBROADCASTSS 4(SI), Y15
	VFMADD231PS Y12, Y15, Y2
	VFMADD231PS Y13, Y15, Y3
	VBROADCASTSS 8(SI), Y14
	VFMADD231PS Y12, Y14, Y4
	VFMADD231PS Y13, Y14, Y5
	VBROADCASTSS 12(SI), Y15
	VFMADD231PS Y12, Y15, Y6
	VFMADD231PS Y13, Y15, Y7
	VBROADCASTSS 16(SI), Y14
	VFMADD231PS Y12, Y14, Y8
	VFMADD231PS Y13, Y14, Y9
	VBROADCASTSS 20(SI), Y15
	VFMADD231PS Y12, Y15, Y10
	VFMADD231PS Y13, Y15, Y11
	ADDQ $24, SI
	ADDQ R8, DI
	DECQ CX
	JNZ loop
epilogue:
	VXORPS Y12, Y12, Y12
	// row 0
	TESTQ R10, R10
	JEQ nobias0
	VBROADCASTSS 0(R10), Y14
	VADDPS Y14, Y0, Y0
	VADDPS Y14, Y1, Y1
nobias0:
	TESTQ R13, R13
	JEQ nomask0
	VMOVUPS (R13), Y14
	VMOVUPS 32(R13), Y15
	VCMPPS $14, Y12, Y14, Y14 // mask > 0
	VCMPPS $14, Y12, Y15, Y15
	VANDPS Y14, Y0, Y0
	VANDPS Y15, Y1, Y1
	ADDQ R14, R13
nomask0:
	TESTQ R12, R12
	JEQ store0
	VADDPS (DX), Y0, Y0
	VADDPS 32(DX), Y1, Y1
store0:
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	ADDQ R9, DX
	DECQ R11
	JEQ done
	// row 1
	TESTQ R10, R10
	JEQ nobias1
	VBROADCASTSS 4(R10), Y14
	VADDPS Y14, Y2, Y2
	VADDPS Y14, Y3, Y3
nobias1:
	TESTQ R13, R13
	JEQ nomask1
	VMOVUPS (R13), Y14
	VMOVUPS 32(R13), Y15
	VCMPPS $14, Y12, Y14, Y14 // mask > 0
	VCMPPS $14, Y12, Y15, Y15
	VANDPS Y14, Y2, Y2
	VANDPS Y15, Y3, Y3
	ADDQ R14, R13
nomask1:
	TESTQ R12, R12
	JEQ store1
	VADDPS (DX), Y2, Y2
	VADDPS 32(DX), Y3, Y3
store1:
	VMOVUPS Y2, (DX)
	VMOVUPS Y3, 32(DX)
	ADDQ R9, DX
	DECQ R11
	JEQ done
	// row 2
	TESTQ R10, R10
	JEQ nobias2
	VBROADCASTSS 8(R10), Y14
	VADDPS Y14, Y4, Y4
	VADDPS Y14, Y5, Y5
nobias2:
	TESTQ R13, R13
	JEQ nomask2
	VMOVUPS (R13), Y14
	VMOVUPS 32(R13), Y15
	VCMPPS $14, Y12, Y14, Y14 // mask > 0
	VCMPPS $14, Y12, Y15, Y15
	VANDPS Y14, Y4, Y4
	VANDPS Y15, Y5, Y5
	ADDQ R14, R13
nomask2:
	TESTQ R12, R12
	JEQ store2
	VADDPS (DX), Y4, Y4
	VADDPS 32(DX), Y5, Y5
store2:
	VMOVUPS Y4, (DX)
	VMOVUPS Y5, 32(DX)
	ADDQ R9, DX
	DECQ R11
	JEQ done
	// row 3
	TESTQ R10, R10
	JEQ nobias3
	VBROADCASTSS 12(R10), Y14
	VADDPS Y14, Y6, Y6
	VADDPS Y14, Y7, Y7
nobias3:
	TESTQ R13, R13
	JEQ nomask3
	VMOVUPS (R13), Y14
	VMOVUPS 32(R13), Y15
	VCMPPS $14, Y12, Y14, Y14 // mask > 0
	VCMPPS $14, Y12, Y15, Y15
	VANDPS Y14, Y6, Y6
	VANDPS Y15, Y7, Y7
	ADDQ R14, R13
nomask3:
	TESTQ R12, R12
	JEQ store3
	VADDPS (DX), Y6, Y6
	VADDPS 32(DX), Y7, Y7
store3:
	VMOVUPS Y6, (DX)
	VMOVUPS Y7, 32(DX)
	ADDQ R9, DX
	DECQ R11
	JEQ done
	// row 4
	TESTQ R10, R10
	JEQ nobias4
	VBROADCASTSS 16(R10), Y14
	VADDPS Y14, Y8, Y8
	VADDPS Y14, Y9, Y9
nobias4:
	TESTQ R13, R13
	JEQ nomask4
	VMOVUPS (R13), Y14
	VMOVUPS 32(R13), Y15
	VCMPPS $14, Y12, Y14, Y14 // mask > 0
	VCMPPS $14, Y12, Y15, Y15
	VANDPS Y14, Y8, Y8
	VANDPS Y15, Y9, Y9
	ADDQ R14, R13
nomask4:
	TESTQ R12, R12
	JEQ store4
	VADDPS (DX), Y8, Y8
	VADDPS 32(DX), Y9, Y9
store4:
	VMOVUPS Y8, (DX)
	VMOVUPS Y9, 32(DX)
	ADDQ R9, DX
	DECQ R11
	JEQ done
	// row 5
	TESTQ R10, R10
	JEQ nobias5
	VBROADCASTSS 20(R10), Y14
	VADDPS Y14, Y10, Y10
	VADDPS Y14, Y11, Y11
nobias5:
	TESTQ R13, R13
	JEQ nomask5
	VMOVUPS (R13), Y14
	VMOVUPS 32(R13), Y15
	VCMPPS $14, Y12, Y14, Y14 // mask > 0
	VCMPPS $14, Y12, Y15, Y15
	VANDPS Y14, Y10, Y10
	VANDPS Y15, Y11, Y11
	ADDQ R14, R13
nomask5:
	TESTQ R12, R12
	JEQ store5
	VADDPS (DX), Y10, Y10
	VADDPS 32(DX), Y11, Y11
store5:
	VMOVUPS Y10, (DX)
	VMOVUPS Y11, 32(DX)
done:
	VZEROUPPER
	RET

// func PackStrips(dst, src *float32, ldb, rows, strips, relu int)
//
// dst[(s*rows+r)*16 : +16] = src[r*ldb+s*16 : +16] for r < rows, s < strips
// (strips ≥ 1), rectified (max(v, 0)) when relu is not 0: row by row, each
// source row read once, in order.
TEXT ·PackStrips(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ldb+16(FP), R8
	SHLQ $2, R8
	MOVQ rows+24(FP), CX
	MOVQ strips+32(FP), DX
	MOVQ relu+40(FP), R13
	VXORPS Y2, Y2, Y2
	MOVQ CX, R9
	SHLQ $6, R9
rowloop:
	TESTQ CX, CX
	JEQ packed
	MOVQ SI, R10
	MOVQ DI, R11
	MOVQ DX, R12
	TESTQ R13, R13
	JNE reluloop
striploop:
	VMOVUPS (R10), Y0
	VMOVUPS 32(R10), Y1
	VMOVUPS Y0, (R11)
	VMOVUPS Y1, 32(R11)
	ADDQ $64, R10
	ADDQ R9, R11
	DECQ R12
	JNZ striploop
	JMP nextrow
reluloop:
	VMAXPS (R10), Y2, Y0
	VMAXPS 32(R10), Y2, Y1
	VMOVUPS Y0, (R11)
	VMOVUPS Y1, 32(R11)
	ADDQ $64, R10
	ADDQ R9, R11
	DECQ R12
	JNZ reluloop
nextrow:
	ADDQ R8, SI
	ADDQ $64, DI
	DECQ CX
	JMP rowloop
packed:
	VZEROUPPER
	RET
