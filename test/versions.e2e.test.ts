// OCPP 1.6, 2.0.1 and 2.1 charge points from independent libraries, end to end on the embedded broker,
// with the default configuration. [SPEC §1, §3–§6]
import { kitChecks, versionSuite } from './support/version-suite.js';

kitChecks();
versionSuite('embedded');
