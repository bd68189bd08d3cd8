#!/usr/bin/env python3
# benchmarks/peers/index_breakdown.py REPO — an unencrypted format-4 repository's blobs by
# type (0 data, 1 tree) and codec (0 zstd, 1 raw, 2 group): count, stored and raw bytes
# (a group's stored bytes counted once). docs/repository-format.md "Index v4".
import sys, struct, glob, collections
repo=sys.argv[1]
stats=collections.defaultdict(lambda:[0,0,0])
groups={}
for f in glob.glob(repo+'/index/*.idx'):
    b=open(f,'rb').read()
    assert b[:8]==b'MDBINDX\0', b[:8]
    v,=struct.unpack_from('<I',b,8); np,=struct.unpack_from('<I',b,12); p=16
    for _ in range(np):
        pack=b[p:p+16]; pv=b[p+16]; n,=struct.unpack_from('<I',b,p+17); p+=21
        for _ in range(n):
            bid=b[p:p+16]; off,sl,rl,chk=struct.unpack_from('<QIIQ',b,p+16); t=b[p+40]; c=b[p+41]; p+=42
            k=(t,c)
            if c==2:
                key=(pack,off)
                if key in groups: stats[k][0]+=1; stats[k][2]+=rl; continue
                groups[key]=1
            stats[k][0]+=1; stats[k][1]+=sl; stats[k][2]+=rl
for k,v in sorted(stats.items()): print('type',k[0],'codec',k[1],'blobs',v[0],'stored',v[1],'raw',v[2])
print('groups',len(groups))
