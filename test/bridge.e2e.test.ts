// The behaviour suite with the embedded broker (the default deployment).
import { behaviourSuite } from './support/behaviour-suite.js';

behaviourSuite('embedded');
