package doctor

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Run probes this host for what the jail backend uses.
func Run(opts Options) Report {
	release, _ := unix.Sysctl("kern.osrelease")
	who := "running as root"
	if os.Geteuid() != 0 {
		who = fmt.Sprintf("running as uid %d", os.Geteuid())
	}
	r := Report{Host: fmt.Sprintf("FreeBSD %s, %s", release, who)}
	r.Checks = append(r.Checks, checkJail(), checkRacct(), checkCapsicum(), checkStateRoot(opts.StateRoot))
	return r
}

func checkJail() Check {
	c := Check{Name: "jails"}
	if jailed, err := unix.SysctlUint32("security.jail.jailed"); err == nil && jailed == 1 {
		c.Status, c.Found = Warn, "plugbox itself runs in a jail: its sandboxes are child jails"
		c.Fix = "allow children in the parent jail (children.max > 0)"
		return c
	}
	if os.Geteuid() != 0 {
		c.Status, c.Found, c.Fix = Missing, "creating jails needs root", "run plugbox as root"
		return c
	}
	c.Status, c.Found = OK, "each sandbox is a jail with nullfs mounts and its own devfs ruleset"
	return c
}

func checkRacct() Check {
	c := Check{Name: "rctl"}
	if on, err := unix.SysctlUint32("kern.racct.enable"); err != nil || on != 1 {
		c.Status, c.Found = Missing, "resource accounting is off: the memory, process and CPU limits cannot be applied"
		c.Fix = "add kern.racct.enable=1 to /boot/loader.conf and reboot"
		return c
	}
	c.Status, c.Found = OK, "memory, process and CPU limits applied as rctl rules on the jail"
	return c
}

func checkCapsicum() Check {
	c := Check{Name: "capsicum"}
	if _, err := unix.SysctlUint32("kern.features.security_capabilities"); err != nil {
		c.Status, c.Found = Warn, "not in this kernel: bundles asking for capability mode will not start"
		c.Fix = "use a kernel built with options CAPABILITY_MODE (GENERIC has it)"
		return c
	}
	c.Status, c.Found = OK, "capability mode available for bundles that ask for it"
	return c
}
