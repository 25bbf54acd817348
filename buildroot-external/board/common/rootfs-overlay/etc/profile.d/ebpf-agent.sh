# shellcheck shell=sh
# Tells who logs in how the first-boot verification of the eBPF agents
# went, and where its report is.
if [ -r /var/lib/ebpf-agent/verify.rc ]; then
	ebpf_agent_rc=$(cat /var/lib/ebpf-agent/verify.rc)
	if [ "${ebpf_agent_rc}" = "0" ]; then
		echo "eBPF agents: verified on this kernel, report in /var/lib/ebpf-agent/verify.json"
	else
		echo "eBPF agents: verification exited ${ebpf_agent_rc}, see /var/lib/ebpf-agent/verify.json"
	fi
	unset ebpf_agent_rc
fi
