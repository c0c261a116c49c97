/** The providing child of the IPFS bench writes the segment's bytes straight onto a stream of this protocol: the transport's own speed. */
export const RAW_STREAM_PROTOCOL = "/rendermesh-bench/raw/1.0.0";
