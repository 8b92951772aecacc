package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// readConfig decodes the JSON file path into v the way crictl reads pod and
// container configs (the CRI types' snake_case JSON names, enums as
// numbers, KeyValue values as strings), refusing unknown fields so that a
// misspelt option fails here instead of being silently dropped.
func readConfig(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// statusJSON prints {"status": STATUS, KEY: INFO[KEY]...} as crictl's
// inspect and info do: STATUS in protobuf's JSON form with every field,
// each verbose info value decoded when it is JSON.
func (c *client) statusJSON(status proto.Message, info map[string]string) error {
	out := map[string]any{}
	if status != nil {
		s, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(status)
		if err != nil {
			return fmt.Errorf("encode status: %w", err)
		}
		out["status"] = json.RawMessage(s)
	}
	for k, v := range info {
		if json.Valid([]byte(v)) {
			out[k] = json.RawMessage(v)
		} else {
			out[k] = v
		}
	}
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func cmdInfo(c *client, args []string) error {
	if err := parse(flags("info", c.stderr), args, 0, 0); err != nil {
		return err
	}
	ctx, cancel := c.rpc()
	defer cancel()
	r, err := c.runtime.Status(ctx, &runtimeapi.StatusRequest{Verbose: true})
	if err != nil {
		return err
	}
	return c.statusJSON(r.GetStatus(), r.GetInfo())
}

func cmdImages(c *client, args []string) error {
	if err := parse(flags("images", c.stderr), args, 0, 0); err != nil {
		return err
	}
	ctx, cancel := c.rpc()
	defer cancel()
	r, err := c.images.ListImages(ctx, &runtimeapi.ListImagesRequest{})
	if err != nil {
		return err
	}
	for _, img := range r.GetImages() {
		tags := img.GetRepoTags()
		if len(tags) == 0 {
			tags = []string{"<none>"}
		}
		for _, t := range tags {
			fmt.Fprintf(c.stdout, "%s\t%s\t%d\n", t, img.GetId(), img.GetSize())
		}
	}
	return nil
}

func cmdRunp(c *client, args []string) error {
	fs := flags("runp", c.stderr)
	handler := fs.String("runtime", "", "the runtime handler (RuntimeClass) to run the pod with")
	if err := parse(fs, args, 1, 1); err != nil {
		return err
	}
	var cfg runtimeapi.PodSandboxConfig
	if err := readConfig(fs.Arg(0), &cfg); err != nil {
		return err
	}
	ctx, cancel := c.rpc()
	defer cancel()
	r, err := c.runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: &cfg, RuntimeHandler: *handler})
	if err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, r.GetPodSandboxId())
	return nil
}

func cmdCreate(c *client, args []string) error {
	fs := flags("create", c.stderr)
	if err := parse(fs, args, 3, 3); err != nil {
		return err
	}
	var ctr runtimeapi.ContainerConfig
	if err := readConfig(fs.Arg(1), &ctr); err != nil {
		return err
	}
	var pod runtimeapi.PodSandboxConfig
	if err := readConfig(fs.Arg(2), &pod); err != nil {
		return err
	}
	ctx, cancel := c.rpc()
	defer cancel()
	r, err := c.runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{
		PodSandboxId: fs.Arg(0), Config: &ctr, SandboxConfig: &pod,
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, r.GetContainerId())
	return nil
}

// each runs call for every ID, printing each ID whose call succeeded as
// crictl does, and stops at the first error.
func (c *client) each(ids []string, call func(id string) error) error {
	for _, id := range ids {
		if err := call(id); err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
		fmt.Fprintln(c.stdout, id)
	}
	return nil
}

func cmdStart(c *client, args []string) error {
	fs := flags("start", c.stderr)
	if err := parse(fs, args, 1, -1); err != nil {
		return err
	}
	return c.each(fs.Args(), func(id string) error {
		ctx, cancel := c.rpc()
		defer cancel()
		_, err := c.runtime.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: id})
		return err
	})
}

func cmdInspect(c *client, args []string) error {
	fs := flags("inspect", c.stderr)
	if err := parse(fs, args, 1, 1); err != nil {
		return err
	}
	ctx, cancel := c.rpc()
	defer cancel()
	r, err := c.runtime.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: fs.Arg(0), Verbose: true})
	if err != nil {
		return err
	}
	return c.statusJSON(r.GetStatus(), r.GetInfo())
}

func cmdInspectp(c *client, args []string) error {
	fs := flags("inspectp", c.stderr)
	if err := parse(fs, args, 1, 1); err != nil {
		return err
	}
	ctx, cancel := c.rpc()
	defer cancel()
	r, err := c.runtime.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: fs.Arg(0), Verbose: true})
	if err != nil {
		return err
	}
	return c.statusJSON(r.GetStatus(), r.GetInfo())
}

// cmdExec runs a command in a container. Without --sync it goes the way
// kubectl exec goes: the Exec call returns a URL of the runtime's
// streaming server, and the output is streamed from there; a non-zero exit
// code ends criclient with status 1 and the line "command terminated with
// exit code N", as crictl does. With --sync it is one ExecSync call, and
// criclient exits with the command's code.
func cmdExec(c *client, args []string) error {
	fs := flags("exec", c.stderr)
	sync := fs.Bool("sync", false, "run with ExecSync and wait for the result")
	fs.BoolVar(sync, "s", false, "short for --sync")
	timeout := fs.Int64("timeout", 0, "with --sync: the command's time limit in seconds (0: none)")
	if err := parse(fs, args, 2, -1); err != nil {
		return err
	}
	id, cmd := fs.Arg(0), fs.Args()[1:]
	if *sync {
		ctx, cancel := c.rpcPlus(*timeout)
		defer cancel()
		r, err := c.runtime.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: cmd, Timeout: *timeout})
		if err != nil {
			return err
		}
		c.stdout.Write(r.GetStdout())
		c.stderr.Write(r.GetStderr())
		if r.GetExitCode() != 0 {
			return &exitError{Code: int(r.GetExitCode())}
		}
		return nil
	}
	ctx, cancel := c.rpc()
	r, err := c.runtime.Exec(ctx, &runtimeapi.ExecRequest{ContainerId: id, Cmd: cmd, Stdout: true, Stderr: true})
	cancel()
	if err != nil {
		return err
	}
	code, err := streamExec(r.GetUrl(), c.stdout, c.stderr)
	if err != nil {
		return fmt.Errorf("stream from %s: %w", r.GetUrl(), err)
	}
	if code != 0 {
		return &exitError{Code: 1, Msg: fmt.Sprintf("command terminated with exit code %d", code)}
	}
	return nil
}

func cmdLogs(c *client, args []string) error {
	fs := flags("logs", c.stderr)
	if err := parse(fs, args, 1, 1); err != nil {
		return err
	}
	ctx, cancel := c.rpc()
	defer cancel()
	r, err := c.runtime.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: fs.Arg(0)})
	if err != nil {
		return err
	}
	path := r.GetStatus().GetLogPath()
	if path == "" {
		return fmt.Errorf("container %s has no log path (its config sets no log_path)", fs.Arg(0))
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return copyLog(f, c.stdout, c.stderr)
}

func cmdStop(c *client, args []string) error {
	fs := flags("stop", c.stderr)
	timeout := fs.Int64("timeout", 0, "seconds between SIGTERM and SIGKILL")
	if err := parse(fs, args, 1, -1); err != nil {
		return err
	}
	return c.each(fs.Args(), func(id string) error { return c.stopContainer(id, *timeout) })
}

func (c *client) stopContainer(id string, timeout int64) error {
	ctx, cancel := c.rpcPlus(timeout)
	defer cancel()
	_, err := c.runtime.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: timeout})
	return err
}

func cmdRm(c *client, args []string) error {
	fs := flags("rm", c.stderr)
	force := fs.Bool("force", false, "stop the containers first")
	fs.BoolVar(force, "f", false, "short for --force")
	if err := parse(fs, args, 1, -1); err != nil {
		return err
	}
	return c.each(fs.Args(), func(id string) error {
		if *force {
			if err := c.stopContainer(id, 0); err != nil {
				return err
			}
		}
		ctx, cancel := c.rpc()
		defer cancel()
		_, err := c.runtime.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: id})
		return err
	})
}

func cmdStopp(c *client, args []string) error {
	fs := flags("stopp", c.stderr)
	if err := parse(fs, args, 1, -1); err != nil {
		return err
	}
	return c.each(fs.Args(), c.stopPod)
}

func (c *client) stopPod(id string) error {
	ctx, cancel := c.rpc()
	defer cancel()
	_, err := c.runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id})
	return err
}

func cmdRmp(c *client, args []string) error {
	fs := flags("rmp", c.stderr)
	force := fs.Bool("force", false, "stop the pods first")
	fs.BoolVar(force, "f", false, "short for --force")
	all := fs.Bool("all", false, "every pod sandbox")
	fs.BoolVar(all, "a", false, "short for --all")
	if err := parse(fs, args, 0, -1); err != nil {
		return err
	}
	ids := fs.Args()
	if *all == (len(ids) > 0) {
		fs.Usage()
		return &exitError{Code: 2, Msg: "rmp: give pod IDs or --all, not both"}
	}
	if *all {
		pods, err := c.listPods()
		if err != nil {
			return err
		}
		for _, p := range pods {
			ids = append(ids, p.GetId())
		}
	}
	return c.each(ids, func(id string) error {
		if *force {
			if err := c.stopPod(id); err != nil {
				return err
			}
		}
		ctx, cancel := c.rpc()
		defer cancel()
		_, err := c.runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id})
		return err
	})
}

func (c *client) listPods() ([]*runtimeapi.PodSandbox, error) {
	ctx, cancel := c.rpc()
	defer cancel()
	r, err := c.runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return nil, err
	}
	return r.GetItems(), nil
}

func cmdPods(c *client, args []string) error {
	fs := flags("pods", c.stderr)
	quiet := fs.Bool("q", false, "print the IDs only")
	if err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	pods, err := c.listPods()
	if err != nil {
		return err
	}
	for _, p := range pods {
		if *quiet {
			fmt.Fprintln(c.stdout, p.GetId())
			continue
		}
		m := p.GetMetadata()
		fmt.Fprintf(c.stdout, "%s\t%s\t%s/%s\t%s\n", p.GetId(), p.GetState(), m.GetNamespace(), m.GetName(), p.GetRuntimeHandler())
	}
	return nil
}

func cmdPs(c *client, args []string) error {
	fs := flags("ps", c.stderr)
	quiet := fs.Bool("q", false, "print the IDs only")
	all := fs.Bool("a", false, "all containers, not only the running ones")
	if err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	req := &runtimeapi.ListContainersRequest{}
	if !*all {
		req.Filter = &runtimeapi.ContainerFilter{State: &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_RUNNING}}
	}
	ctx, cancel := c.rpc()
	defer cancel()
	r, err := c.runtime.ListContainers(ctx, req)
	if err != nil {
		return err
	}
	for _, ctr := range r.GetContainers() {
		if *quiet {
			fmt.Fprintln(c.stdout, ctr.GetId())
			continue
		}
		fmt.Fprintf(c.stdout, "%s\t%s\t%s\t%s\n", ctr.GetId(), ctr.GetState(), ctr.GetMetadata().GetName(), ctr.GetPodSandboxId())
	}
	return nil
}
