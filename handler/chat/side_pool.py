"""The thread pool that runs DynamoDB reads beside a write (sendmessage's audience lookup, join's
read marker, the rooms list's counts)."""

from concurrent.futures import ThreadPoolExecutor

side_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="side")
