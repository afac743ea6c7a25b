// gremlin-javascript with its default settings (GraphSON 3.0) against graphserver: writes the modern
// graph's people, reads them back in several shapes, sends several traversals at once on one
// connection, and prints one JSON line with what it saw. Usage: node client.js ws://host:port/gremlin [user password]
'use strict';
const gremlin = require('gremlin');

const { DriverRemoteConnection } = gremlin.driver;
const { PlainTextSaslAuthenticator } = gremlin.driver.auth;
const { traversal } = gremlin.process.AnonymousTraversalSource;
const { t, order, P } = gremlin.process;
const __ = gremlin.process.statics;

async function main() {
  const [url, user, password] = process.argv.slice(2);
  const options = user ? { authenticator: new PlainTextSaslAuthenticator(user, password) } : {};
  const connection = new DriverRemoteConnection(url, options);
  const g = traversal().withRemote(connection);
  try {
    for (const [id, name, age] of [['1', 'marko', 29], ['2', 'vadas', 27], ['4', 'josh', 32]]) {
      await g.addV('person').property(t.id, id).property('name', name).property('age', age).iterate();
    }
    await g.V('1').addE('knows').to(__.V('2')).property('weight', 0.5).iterate();
    const names = await g.V().hasLabel('person').order().by('age', order.desc).values('name').toList();
    const vertex = await g.V('1').next();
    const edge = await g.E().hasLabel('knows').next();
    const grouped = await g.V().group().by('name').by(__.values('age')).next();
    const older = await g.V().has('age', P.gt(28)).count().next();
    const parallel = await Promise.all([1, 2, 3, 4, 5].map((n) => g.inject(n).math('_ * 10').toList()));
    const groupedEntries = Object.fromEntries(grouped.value instanceof Map ? grouped.value : Object.entries(grouped.value));
    console.log(JSON.stringify({
      names,
      vertex: { id: vertex.value.id, label: vertex.value.label },
      edge: { label: edge.value.label, outV: edge.value.outV.id, inV: edge.value.inV.id },
      grouped: groupedEntries,
      older: older.value,
      parallel,
    }));
  } finally {
    await connection.close();
  }
}

main().catch((error) => {
  console.error(`gremlin-javascript failed: ${error && error.stack ? error.stack : error}`);
  process.exit(1);
});
