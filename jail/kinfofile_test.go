package jail

import (
	"encoding/binary"
	"testing"
)

// kinfoFile lays out struct kinfo_file (sys/user.h, FreeBSD 14, LP64) as
// fcntl(F_KINFO) returns it: kf_structsize @0 (KINFO_FILE_SIZE 1392),
// kf_type @4, kf_fd @8, kf_ref_count @12, kf_flags @16, kf_pad0 @20,
// kf_offset @24, kf_un @32 whose kf_file.kf_file_type is the vnode type.
func kinfoFile(kfType, vtype, flags int) []byte {
	b := make([]byte, 1392)
	binary.LittleEndian.PutUint32(b[0:], 1392)
	binary.LittleEndian.PutUint32(b[4:], uint32(kfType))
	binary.LittleEndian.PutUint32(b[16:], uint32(flags))
	binary.LittleEndian.PutUint32(b[32:], uint32(vtype))
	return b
}

// F14: descriptors are classified by kf_type, so a kqueue (whose fstat
// says S_IFIFO) or a process descriptor is not limited as a pipe or file
// but refused.
func TestClassifyKinfoFile(t *testing.T) {
	tests := []struct {
		kfType, vtype int
		listening     bool
		want          FDKind
	}{
		{KFTypeVnode, KFVtypeVreg, false, FDFile},
		{KFTypeVnode, KFVtypeVdir, false, FDDir},
		{KFTypeVnode, KFVtypeVchr, false, FDCharDev},
		{KFTypeVnode, KFVtypeVfifo, false, FDPipe},
		{KFTypeVnode, KFVtypeVblk, false, FDUnknown},
		{KFTypePipe, 0, false, FDPipe},
		{KFTypeFifo, 0, false, FDPipe},
		{KFTypePts, 0, false, FDCharDev},
		{KFTypeDev, 0, false, FDCharDev},
		{KFTypeSocket, 0, false, FDSocket},
		{KFTypeSocket, 0, true, FDListener},
		{KFTypeKqueue, 0, false, FDUnknown},
		{KFTypeProcdesc, 0, false, FDUnknown},
		{KFTypeShm, 0, false, FDUnknown},
		{KFTypeEventfd, 0, false, FDUnknown},
		{KFTypeMqueue, 0, false, FDUnknown},
	}
	for _, tt := range tests {
		fi, err := ParseKinfoFile(kinfoFile(tt.kfType, tt.vtype, 3))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Flags != 3 {
			t.Errorf("kf_flags %d", fi.Flags)
		}
		if got := Classify(fi, tt.listening); got != tt.want {
			t.Errorf("kf_type %d vtype %d: %s, want %s (%s)", tt.kfType, tt.vtype, got, tt.want, fi.TypeName())
		}
		if got := Classify(fi, tt.listening); got == FDUnknown {
			if _, err := LimitsFor(got, ReadOnly); err == nil {
				t.Errorf("%s is not refused", fi.TypeName())
			}
		}
	}
	if fi, _ := ParseKinfoFile(kinfoFile(KFTypeKqueue, 0, 0)); fi.TypeName() != "kqueue" {
		t.Errorf("TypeName %q", fi.TypeName())
	}
	short := kinfoFile(1, 1, 0)[:100]
	if _, err := ParseKinfoFile(short); err == nil {
		t.Error("short buffer parsed")
	}
	wrong := kinfoFile(1, 1, 0)
	binary.LittleEndian.PutUint32(wrong, 1328)
	if _, err := ParseKinfoFile(wrong); err == nil {
		t.Error("kinfo_ofile size parsed")
	}
	if r := KinfoFileRequest(); len(r) != 1392 || binary.LittleEndian.Uint32(r) != 1392 {
		t.Error("KinfoFileRequest")
	}
	if AccessModeOf(0) != ReadOnly || AccessModeOf(1) != WriteOnly || AccessModeOf(2|0x4) != ReadWrite {
		t.Error("AccessModeOf")
	}
}
