# Shell helpers shared by the scripts that start local brokers
# (smoke-arm.sh, telegraf-check.sh); sourced, not run.

# free_port prints a TCP port on 127.0.0.1 that nothing listens on (bash's
# /dev/tcp connect fails), trying random ports above 20000.
free_port() {
	local p
	for _ in $(seq 1 100); do
		p=$((20000 + RANDOM % 30000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}
