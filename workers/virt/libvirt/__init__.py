"""The libvirt driver, split as Nova's: host.py (connection, events), guest.py (one domain),
config.py (domain XML), imagecache.py (base images), configdrive.py, qemuimg.py, and
driver.py (orchestration; the class the compute worker loads is driver.LibvirtDriver).
"""
